from fleetdeck_cli.cli import main

raise SystemExit(main())
