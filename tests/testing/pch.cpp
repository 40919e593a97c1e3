// Carries the precompiled header that every test reuses.
