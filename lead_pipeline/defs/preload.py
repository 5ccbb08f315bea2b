"""Imported by the forkserver that forks every step process: builds the code location once.

``lead_pipeline.defs.definitions`` builds nothing at import (its ``defs`` is
lazy); the step processes forked from a server that preloaded only the module
would each read the workflow files and build every asset again. Preloading
this module builds it in the server, and every step inherits the result.
"""

from lead_pipeline.defs.definitions import chain_job

chain_job()
