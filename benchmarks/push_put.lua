-- wrk script for benchmarks/compare_push.sh: each request PUTs a group of 100 metrics to one
-- of 1,000 groups in turn (job "bench", label group=0..999), the groups the script preloads.
local lines = {}
for i = 0, 99 do
  lines[#lines + 1] = string.format("bench_metric_%d{kind=\"load\"} %d\n", i, i)
end
local body = table.concat(lines)
local n = 0
request = function()
  n = n + 1
  return wrk.format("PUT", "/metrics/job/bench/group/" .. (n % 1000), nil, body)
end
