-- Record quote requests in their OWN velocity state (never the applications') and return
-- each one's quote counts, as of its own event time. One call per batch (one round trip).
--
-- ARGV[1] (comma-separated): prefix, retention_ms, lateness_ms, key_ttl_ms, nK (kinds),
--          nW, W1..WnW (window lengths)
-- ARGV[2]: quotes separated by \30, fields by \31: quote_id, event_time, then one hash per
--          kind (the client's order; '' = none)
-- Returns per quote a flat array: per kind, the count per window.
-- Window semantics as compute.lua: a quote with time e counts in window W at time t iff
-- t - W < e <= t (this one included). Idempotent: members are quote ids, so a redelivered
-- request counts once.
-- split(str, sep): features/lua/lib.lua
local H = split(ARGV[1], ',')
local P = H[1] .. ':qz:'
local RET, LATE, KEY_TTL = tonumber(H[2]), tonumber(H[3]), tonumber(H[4])
local nK, nW = tonumber(H[5]), tonumber(H[6])
local W = {}
for k = 1, nW do W[k] = tonumber(H[6 + k]) end
local out = {}
for _, blob in ipairs(split(ARGV[2], '\30')) do
  local f = split(blob, '\31')
  local q, t = f[1], tonumber(f[2])
  local v = {}
  for k = 1, nK do
    local h = f[2 + k]
    if h == '' then
      for w = 1, nW do v[#v + 1] = 0 end
    else
      local zkey = P .. k .. ':' .. h
      redis.call('ZADD', zkey, t, q)
      redis.call('ZREMRANGEBYSCORE', zkey, '-inf', '(' .. (t - RET - LATE))
      redis.call('PEXPIRE', zkey, KEY_TTL)
      for w = 1, nW do v[#v + 1] = redis.call('ZCOUNT', zkey, '(' .. (t - W[w]), t) end
    end
  end
  out[#out + 1] = v
end
return out
