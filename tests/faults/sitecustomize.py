"""Fault injection for the kill tests, loaded only in child processes whose PYTHONPATH holds this folder
(tests/integration/test_reliability_kill.py puts it there). Production code has no switch for it: the hook is a
module attribute of `counselsim.corpus.storage`, set here from inside the process.

CRASH_IN_WRITE=NAME: die by SIGKILL inside the atomic write of the first file whose name contains NAME, with half
the data written and the rename not done, like a driver killed mid-write.
"""
import os
import signal

_name = os.environ.get("CRASH_IN_WRITE")
if _name:
    from counselsim.corpus import storage

    def _crash(target, f):
        if _name in target.name:
            f.truncate(f.tell() // 2)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    storage.crash_hook = _crash
