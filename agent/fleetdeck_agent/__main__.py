from fleetdeck_agent.cli import main

raise SystemExit(main())
