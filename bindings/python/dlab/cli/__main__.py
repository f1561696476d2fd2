"""`python3 -m dlab.cli` (what ./lab runs): dlab.cli.main.main()."""
import sys

from .main import main

sys.exit(main())
