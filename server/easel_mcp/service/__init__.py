"""The service layer: one call, from request to result, through ports.

`call` builds the one immutable `Call` (options validated, inputs resolved, estimate and provider request
made once); `engine` runs it (budget reserved, sent, retried, written, settled) through the ports in
`ports` (providers, image store, index, ledger, jobs, progress); `local` holds the embedded defaults
(the workspace folder, its SQLite index, the configured ledger). Nothing here imports the tools, the app,
the CLI, tasks or the gallery; nothing below (providers, imaging, catalog, storage) imports this package.
"""
