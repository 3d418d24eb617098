"""The edgevision version, in a module of its own at the bottom of the import layers.

Every layer records it (bundles, benchmark results, MQTT discovery, model cards); taking it from
here instead of the package ``__init__`` keeps imports one way (the ``__init__`` points up at the
runtime and device APIs).
"""

from __future__ import annotations

__version__ = "0.1.0"
