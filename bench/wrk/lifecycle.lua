-- The whole life of an application, one after another on one connection, beside the mix of
-- journeys.lua (scripts/soak runs this with wrk -t1 -c1): the citizen makes the newborn pack's
-- application (its form prefilled through the exchange), uploads its two materials and submits
-- it; the approval bureau's window accepts it; health, police, medical insurance and human
-- resources each open their part and approve it, the last approval signing the licenses. Each
-- answer feeds the next request: an application's id, then each department's task. Any answer
-- of 400 or above (which wrk counts as an error) starts a new application. SOAK_LIFE_DELAY_MS
-- paces the calls.
local token = {}
for _, name in ipairs({"citizen", "approval", "health", "police", "medins", "hrss"}) do
  token[name] = "Bearer " .. os.getenv("SOAK_" .. string.upper(name) .. "_TOKEN")
end
local delay_ms = tonumber(os.getenv("SOAK_LIFE_DELAY_MS") or "0")

-- Each life a child of its own: a birth date in 2026 up to the end of November and a sex, so that
-- the person registry keeps finding citizen ID numbers (500 a day, a district and a sex).
local lives_begun = 0
local function form()
  lives_begun = lives_begun + 1
  local day = lives_begun % 334  -- 1 January to 30 November 2026
  local month, days_in = 1, {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30}
  while day >= days_in[month] do
    day = day - days_in[month]
    month = month + 1
  end
  return string.format('{"form":{"child_name":"张小宝","child_sex":"%d","child_birth_date":"2026-%02d-%02d",' ..
                       '"birth_hospital":"莱西市人民医院","other_parent_name":"王芳",' ..
                       '"other_parent_id":"44011320141005001X"}}', 1 + math.floor(lives_begun / 334) % 2, month, day + 1)
end
local pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
local png = "\137PNG\r\n\26\n" .. string.rep("\0", 64)
local departments = {"health", "police", "medins", "hrss"}

local step = 1        -- the next call of the life below
local application     -- its id, once made
local task            -- the open task of the department about to decide
completed = 0         -- lives ended by the last approval (a global, which done() reads)

local function call(method, path, caller, content_type, body)
  local headers = {Authorization = token[caller]}
  if content_type then headers["Content-Type"] = content_type end
  return wrk.format(method, path, headers, body)
end

-- The calls in order; a department's two calls (its view, then its decision) come four times.
local life = {
  function() return call("POST", "/api/v1/services/QD-CSYJS-001/applications", "citizen", "application/json", form()) end,
  function() return call("PUT", "/api/v1/applications/" .. application .. "/materials/birth_record?file_name=birth.pdf",
                         "citizen", "application/pdf", pdf) end,
  function() return call("PUT", "/api/v1/applications/" .. application .. "/materials/photo?file_name=photo.png",
                         "citizen", "image/png", png) end,
  function() return call("POST", "/api/v1/applications/" .. application .. "/submit", "citizen", nil, nil) end,
  function() return call("POST", "/api/v1/applications/" .. application .. "/intake", "approval", "application/json",
                         '{"decision":"accept"}') end,
}
for _, department in ipairs(departments) do
  table.insert(life, function() return call("GET", "/api/v1/applications/" .. application, department, nil, nil) end)
  table.insert(life, function()
    return call("POST", "/api/v1/applications/" .. application .. "/decision", department, "application/json",
                '{"task_id":"' .. task .. '","outcome":"approve","reason":"符合条件"}')
  end)
end

function request()
  return life[step]()
end

function response(status, headers, body)
  if status >= 400 then
    step = 1
    return
  end
  if step == 1 then
    application = body:match('"id":"(app_[%w_%-]+)"')
  elseif step > 5 and (step - 5) % 2 == 1 then
    -- The department's view: its one open task (an object's members come in sorted order).
    task = body:match('"id":"(wft_[%w]+)"[^{}]-"status":"open"')
  end
  if step == #life then completed = completed + 1 end
  step = step % #life + 1
  if (step > 1 and application == nil) or (step > 5 and (step - 5) % 2 == 0 and task == nil) then step = 1 end
end

-- wrk waits whole milliseconds: a fraction is made good on average by waiting one more at random.
function delay()
  local whole = math.floor(delay_ms)
  return whole + ((math.random() < delay_ms - whole) and 1 or 0)
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

dofile(os.getenv("SOAK_WRK_DIR") .. "/summary.lua")
local summarize = done
function done(summary, latency, requests)
  summarize(summary, latency, requests)
  local lives = 0
  for _, thread in ipairs(threads) do lives = lives + thread:get("completed") end
  io.write(string.format("SOAK_LIVES completed=%d\n", lives))
end
