"""``python -m korund``: the appliance's ``/usr/local/bin/korund``."""
import sys

from korund.cli import main

sys.exit(main())
