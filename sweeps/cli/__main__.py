"""python -m sweeps.cli: the same as resnet-sweep."""

import sys

from sweeps.cli.resnet_sweep import main

sys.exit(main())
