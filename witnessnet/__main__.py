import sys

from witnessnet.cli import main

sys.exit(main())
