import sys

from nbhygiene.cli import main

sys.exit(main())
