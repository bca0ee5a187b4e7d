"""The op table: TF op name → :class:`~.context.OpSpec` (translation and numpy fold).

``Const`` and ``Placeholder`` are not in the table: the converter turns them into
constants and graph inputs itself.
"""

from __future__ import annotations

from hyperion_core.models.tfjs import ops_array, ops_math, ops_nn
from hyperion_core.models.tfjs.context import OpSpec

OP_TABLE: dict[str, OpSpec] = {**ops_array.OPS, **ops_math.OPS, **ops_nn.OPS}
"""Every translated TF op; an op missing here is reported as unsupported."""
