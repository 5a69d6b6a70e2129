"""Values and helpers shared by the gateway tests (a module of its own: conftest modules share a name)."""

PRICE = 10**12


def digits(test_split, count, offset=0):
    """`count` test images as pixel intensities 0..16, with their labels."""
    images = (test_split.inputs[offset : offset + count] * 16).round().tolist()
    return images, test_split.targets[offset : offset + count].tolist()
