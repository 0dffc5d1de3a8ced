from alko_desk.cli import main

raise SystemExit(main())
