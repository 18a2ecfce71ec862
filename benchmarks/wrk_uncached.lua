-- wrk script: like wrk_paths.lua, but every request is a cache miss (a unique ignored query
-- parameter), so it measures the engine path, e.g. during a generation swap.
local paths = {}
for line in io.lines(os.getenv("PEPY_PATHS")) do
  paths[#paths + 1] = line
end
local index, counter, tag = 0, 0, 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  index = math.random(#paths)
  tag = math.random(1000000000)
end

function request()
  index = index % #paths + 1
  counter = counter + 1
  local path = paths[index]
  local sep = string.find(path, "?", 1, true) and "&" or "?"
  return wrk.format("GET", path .. sep .. "_nocache=" .. tag .. "x" .. counter)
end
