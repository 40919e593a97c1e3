// placeholder until the certificate authority lands
