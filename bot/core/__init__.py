"""The platform-neutral core: what a member asked for (`request`), the durable queue that runs it
(`jobs`), the Wiro client (`wiro`), the tool's catalog (`catalog`) and the finished portrait
(`result`). Nothing here imports a chat platform's library or a front end (checked by the
import-linter contracts in `.importlinter`, run by tests/test_layering.py)."""
