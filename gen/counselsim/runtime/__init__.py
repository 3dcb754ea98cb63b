"""Running a job: the job protocol, the runner, crash-safe staging and the driver that places engines."""
