"""Model layer: the only part of promptkit that imports keras and TensorFlow."""
