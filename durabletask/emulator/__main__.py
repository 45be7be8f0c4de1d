"""``python -m durabletask.emulator --port 8080 --db PATH``."""

import sys

from durabletask.emulator import main

if __name__ == "__main__":
    sys.exit(main())
