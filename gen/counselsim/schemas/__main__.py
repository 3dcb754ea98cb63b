"""`python -m counselsim.schemas`: regenerate (or `--check`) the JSON Schema files in the top-level schemas/."""
import sys

from counselsim.schemas.json_schema import main

sys.exit(main())
