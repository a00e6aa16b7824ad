-- Record applications in the velocity state and return each one's raw features,
-- as of its own event time. One call per batch of applications (one round trip).
--
-- ARGV[1] (comma-separated): prefix, retention_ms, lateness_ms, key_ttl_ms, vector_ttl_ms,
--          ids_ttl_ms, first_seen_ttl_ms, cap, nW, W1..WnW (velocity windows),
--          nD, D1..DnD (distinct windows)
-- ARGV[2]: applications separated by \30, fields by \31: app_id, event_time, session_id,
--          h_id, h_device, h_phone, h_email, h_ip, h_address, memo_key, mode
-- (two arguments however large the batch: packing arguments is the client's main cost)
-- memo_key: a hash whose field app_id holds a result made earlier (the worker's redelivery
--   memo), or empty. When that field exists the application is not computed at all: its
--   reply is {blob} (a one-element array) instead of a vector.
-- Returns per application one JSON string (or {memo blob}):
--   {"ids": [6 hashes], "t": "<event_time>", "v": [numbers], "s": [session hash, flat]}
-- v = per kind (id, device, phone, email, ip, address):
--       count per W, ms since previous application (-1 none), distinct per part per D
--     then linked_ids, linked_apps, fraud_linked_identifiers, device_first_seen_ms.
-- Window semantics: an event with time e counts in window W at time t iff t - W < e <= t.
-- Counts are exact; distinct counts, "previous" and graph links look at the CAP most recent
-- applications of each identifier (in event time, <= t), which bounds the script's cost.
-- Idempotent: an application id already computed returns its stored result unchanged
-- (while its vector is kept, VEC_TTL); counts never double (members are keyed by app id).
-- mode 'p' (peek: a quote request) computes the same features as if the application were
--   made now, this one included, and leaves the state as it found it: its members are
--   removed again, nothing is trimmed, stored or marked first seen.
-- Bounded memory: every sorted set written is kept by upkeep() (lib.lua): trimmed to
-- retention + lateness behind t, its expiry renewed once a quarter of a day of event time.
-- split, record, above, quarter, json_numbers: features/lua/lib.lua
local H = split(ARGV[1], ',')
local P = H[1]
local RET = tonumber(H[2])
local LATE = tonumber(H[3])
local KEY_TTL, VEC_TTL, IDS_TTL, FS_TTL = H[4], H[5], H[6], H[7]  -- given to Redis as they are
local CAP, SCAP = tonumber(H[8]), H[8]
local KEEP = RET + LATE
local nW = tonumber(H[9]); local W = {}
for k = 1, nW do W[k] = tonumber(H[9 + k]) end
local nD = tonumber(H[10 + nW]); local D = {}
for k = 1, nD do D[k] = tonumber(H[10 + nW + k]) end

local KINDS = {'id', 'dev', 'ph', 'em', 'ip', 'ad'}
local GRAPH = {dev = true, ph = true, ip = true}
local out = {}

for _, blob in ipairs(split(ARGV[2], '\30')) do
  local f = split(blob, '\31')
  local app = f[1]
  local tstr = f[2]
  local t = tonumber(tstr)
  local bucket = quarter(t, KEY_TTL, KEEP)
  local sid = f[3]
  local h = {f[4], f[5], f[6], f[7], f[8], f[9]}
  local vkey = P .. ':v:' .. app
  local peek = f[11] == 'p'
  local memo = false
  if f[10] and f[10] ~= '' then memo = redis.call('HGET', f[10], app) end
  local cached = (not memo) and (not peek) and redis.call('GET', vkey)
  if memo then
    out[#out + 1] = {memo}
  elseif cached then
    out[#out + 1] = cached
  else
    local v = {}
    local linked_ids, n_ids, linked_apps, n_apps = {}, 0, {}, 0
    local own_member_tail = {
      h[2] .. '|' .. h[3] .. '|' .. h[4],  -- identity key: remember device, phone, email
    }
    for k = 1, 6 do
      local kind = KINDS[k]
      local zkey = P .. ':z:' .. kind .. ':' .. h[k]
      local member
      if k == 1 then member = app .. '|' .. own_member_tail[1] else member = app .. '|' .. h[1] end
      -- the newest CAP at or before t, of any age (the upkeep's read), then those in retention
      local r, added = record(zkey, member, t, tstr, CAP, SCAP, KEEP, bucket, KEY_TTL, peek)
      r = above(r, t - RET)
      local nparts = (k == 1) and 3 or 1
      if #r == 2 and CAP > 1 then  -- this application alone: every count 1, none before
        for _ = 1, nW do v[#v + 1] = 1 end
        v[#v + 1] = -1
        for _ = 1, nparts * nD do v[#v + 1] = 1 end
      else
        local cnt = {}
        for w = 1, nW do cnt[w] = 0 end
        -- a full page means a hot identifier: count windows exactly with ZCOUNT instead
        local full = (#r / 2) >= CAP
        local dset, dcnt = {}, {}
        for p = 1, nparts do
          dset[p] = {}; dcnt[p] = {}
          for d = 1, nD do dset[p][d] = {}; dcnt[p][d] = 0 end
        end
        local last = -1
        local graph = GRAPH[kind]
        for j = 1, #r, 2 do
          local m = r[j]
          local s = r[j + 1]
          if not full then
            for w = 1, nW do if s > t - W[w] then cnt[w] = cnt[w] + 1 end end
          end
          local p1 = string.find(m, '|', 1, true)
          local mapp = string.sub(m, 1, p1 - 1)
          local rest = string.sub(m, p1 + 1)
          if mapp ~= app then
            if s > last then last = s end
            if graph then
              if not linked_apps[mapp] then linked_apps[mapp] = true; n_apps = n_apps + 1 end
              if rest ~= h[1] and not linked_ids[rest] then
                linked_ids[rest] = true; n_ids = n_ids + 1
              end
            end
          end
          local parts
          if nparts == 1 then parts = {rest} else
            local a = string.find(rest, '|', 1, true)
            local b = string.find(rest, '|', a + 1, true)
            parts = {string.sub(rest, 1, a - 1), string.sub(rest, a + 1, b - 1), string.sub(rest, b + 1)}
          end
          for p = 1, nparts do
            local val = parts[p]
            for d = 1, nD do
              if s > t - D[d] and not dset[p][d][val] then
                dset[p][d][val] = true; dcnt[p][d] = dcnt[p][d] + 1
              end
            end
          end
        end
        if full then
          for w = 1, nW do cnt[w] = redis.call('ZCOUNT', zkey, '(' .. (t - W[w]), tstr) end
        end
        for w = 1, nW do v[#v + 1] = cnt[w] end
        if last >= 0 then v[#v + 1] = t - last else v[#v + 1] = -1 end
        for p = 1, nparts do for d = 1, nD do v[#v + 1] = dcnt[p][d] end end
      end
      if peek and added == 1 then redis.call('ZREM', zkey, member) end
    end
    v[#v + 1] = n_ids
    v[#v + 1] = n_apps
    -- confirmed-fraud flags: value = earliest confirmation time; counts if at or before t
    local fk = {}
    for k = 1, 6 do fk[k] = P .. ':f:' .. KINDS[k] .. ':' .. h[k] end
    local flags = redis.call('MGET', unpack(fk))
    local nf = 0
    for k = 1, 6 do
      if flags[k] and tonumber(flags[k]) <= t then nf = nf + 1 end
    end
    v[#v + 1] = nf
    -- device first seen (earliest event time across applications and device events)
    local fskey = P .. ':fs:' .. h[2]
    local fs = tonumber(redis.call('GET', fskey) or '')
    if (not fs) or fs > t then
      if not peek then redis.call('SET', fskey, tstr, 'PX', FS_TTL) end
      v[#v + 1] = 0
    else
      if not peek then redis.call('PEXPIRE', fskey, FS_TTL) end
      v[#v + 1] = t - fs
    end
    local sess = redis.call('HGETALL', P .. ':s:' .. sid)
    -- what cjson.encode({ids = h, t = tstr, v = v, s = sess}) writes, in its key order;
    -- the numbers and the hashes (hex) need no cjson
    local res = '{"v":' .. json_numbers(v) .. ',"t":"' .. tstr .. '","s":' .. cjson.encode(sess)
                .. ',"ids":["' .. table.concat(h, '","') .. '"]}'
    if not peek then
      redis.call('SET', vkey, res, 'PX', VEC_TTL)
      -- identifiers kept longer, for fraud confirmations that arrive months later
      redis.call('SET', P .. ':a:' .. app, table.concat(h, ','), 'PX', IDS_TTL)
    end
    out[#out + 1] = res
  end
end
return out
