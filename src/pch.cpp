// Carries the precompiled header that every module reuses.
