from pepy_pipeline.cli import main

raise SystemExit(main())
