import sys

from dari.cli import main

sys.exit(main())
