"""Running a trained model: its Keras or LiteRT runtime, and writing its LiteRT twins."""
