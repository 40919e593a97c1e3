// placeholder until the transparency log lands
