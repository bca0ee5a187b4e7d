"""Small edits of ONNX graphs shared by the model loaders."""

from __future__ import annotations

import onnx


def prune(graph: onnx.GraphProto) -> None:
    """Remove, in place, the nodes no graph output depends on, then unread initialisers.

    Walks the nodes backwards from the outputs (nodes are in topological order), so a cut
    graph (e.g. a ViT whose heads are no longer wanted) keeps only what it computes.
    """
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    initializers = [t for t in graph.initializer if t.name in needed]
    del graph.node[:]
    graph.node.extend(reversed(keep))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
