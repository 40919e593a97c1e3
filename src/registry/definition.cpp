// placeholder until registry definitions land
