-- The main journeys, mixed as a day at the platform mixes them, for wrk (scripts/soak):
-- a citizen reading service guides and their licenses and starting an application (its form
-- prefilled through the exchange), health reading the citizen's record through its grant, police
-- reading a registry record, anyone verifying a license. Tokens and keys come from the
-- environment; SOAK_DELAY_MS slows each connection down to a chosen rate.
local citizen = "Bearer " .. os.getenv("SOAK_CITIZEN_TOKEN")
local health = "Bearer " .. os.getenv("SOAK_HEALTH_TOKEN")
local police = "Bearer " .. os.getenv("SOAK_POLICE_TOKEN")
local person = os.getenv("SOAK_PERSON_RESOURCE")
local citizen_id = os.getenv("SOAK_CITIZEN_ID")
local license = os.getenv("SOAK_LICENSE")
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "0")

local form = '{"form":{"child_name":"张小宝","child_sex":"1","child_birth_date":"2026-11-28",' ..
             '"birth_hospital":"莱西市人民医院","other_parent_name":"王芳","other_parent_id":"44011320141005001X"}}'

local journeys = {
  {"GET", "/api/v1/services", citizen, nil},
  {"GET", "/api/v1/services/QD-CSYJS-001", citizen, nil},
  {"GET", "/api/v1/me/licenses", citizen, nil},
  {"GET", "/api/v1/exchange/resources/" .. person .. "/records/" .. citizen_id, health, nil},
  {"GET", "/api/v1/registries/person/records/" .. citizen_id, police, nil},
  {"GET", "/api/v1/licenses/" .. license .. "/verify", nil, nil},
  {"POST", "/api/v1/services/QD-CSYJS-001/applications", citizen, form},
}

local counter = 0
function request()
  counter = counter + 1
  local journey = journeys[(counter % #journeys) + 1]
  local headers = {}
  if journey[3] then headers["Authorization"] = journey[3] end
  if journey[4] then headers["Content-Type"] = "application/json" end
  return wrk.format(journey[1], journey[2], headers, journey[4])
end

-- wrk waits whole milliseconds: a fraction is made good on average by waiting one more at random.
function delay()
  local whole = math.floor(delay_ms)
  return whole + ((math.random() < delay_ms - whole) and 1 or 0)
end

dofile(os.getenv("SOAK_WRK_DIR") .. "/summary.lua")
