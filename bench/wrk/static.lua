-- The baseline: the same server's static answer (GET /healthz), with the same summary line.
dofile(os.getenv("SOAK_WRK_DIR") .. "/summary.lua")
