-- wrk script: request paths from the file named by PEPY_PATHS, one per line, cycling from a
-- random start in each thread (the file is already a Zipf-distributed sample of the mix).
local paths = {}
for line in io.lines(os.getenv("PEPY_PATHS")) do
  paths[#paths + 1] = line
end
local index = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  index = math.random(#paths)
end

function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
