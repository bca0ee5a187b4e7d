"""Live views of the Hyperion graph: a Foxglove WebSocket server and an annotated image."""
