-- Mark every identifier of a confirmed-fraud application, keeping the earliest
-- confirmation time, so "linked to confirmed fraud" holds from that event time on.
-- ARGV: prefix, fraud_ttl_ms, then pairs (application_id, confirmation_time).
-- Returns how many applications were found (an unknown or expired one is skipped).
local P = ARGV[1]
local TTL = tonumber(ARGV[2])
local KINDS = {'id', 'dev', 'ph', 'em', 'ip', 'ad'}
local found = 0
for i = 3, #ARGV - 1, 2 do
  local rec = redis.call('GET', P .. ':a:' .. ARGV[i])
  if rec then
    found = found + 1
    local tc = tonumber(ARGV[i + 1])
    local ids = {}
    for x in string.gmatch(rec, '[^,]+') do ids[#ids + 1] = x end
    for k = 1, 6 do
      local fkey = P .. ':f:' .. KINDS[k] .. ':' .. ids[k]
      local cur = tonumber(redis.call('GET', fkey) or '')
      if (not cur) or tc < cur then
        redis.call('SET', fkey, tc, 'PX', TTL)
      else
        redis.call('PEXPIRE', fkey, TTL)
      end
    end
  end
end
return found
