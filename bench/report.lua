-- wrk report: one machine-readable line per run.
-- Requests rotate through the paths in the PATHS environment variable (space-separated). With
-- UNIQUE=1 every request also carries a parameter the API ignores but no cache has seen, so
-- each one is computed afresh.
local paths = {}
local key = os.getenv("KEY") or ""
for p in string.gmatch(os.getenv("PATHS") or "/", "%S+") do
  table.insert(paths, p)
end
local unique = os.getenv("UNIQUE") == "1"
local counter = 0

-- Runs in the main state: gives each thread its own tag so unique paths never collide.
local threads_made = 0
setup = function(thread)
  threads_made = threads_made + 1
  thread:set("tag", threads_made)
end

request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  if unique then
    local sep = string.find(path, "?", 1, true) and "&" or "?"
    path = path .. sep .. "nocache=" .. tostring(tag) .. "-" .. counter
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors))
end
