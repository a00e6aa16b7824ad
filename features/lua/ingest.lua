-- Fold a batch of session events (behaviour and device) into per-session summaries.
-- One call per batch; per session only a handful of commands, never one per event.
--
-- ARGV[1] (comma-separated): prefix, session_ttl_ms, first_seen_ttl_ms
-- ARGV[2]: behaviour events separated by \30, fields by \31:
--   event_key, session_id, event_time, type, inter_key_tenths
--   type: P(age view) K(eystroke) A (paste) C(orrection) F(ield focus) S(ubmit);
--   inter_key_tenths: integer tenths of a millisecond, or empty
-- ARGV[3]: device events, same separators: event_key, session_id, event_time, h_device,
--   h_ip, emulator (0/1), rooted (0/1), ip_country, geo_country, timezone
-- event_key: a short fixed-width digest of the event id (no commas).
-- Idempotent by event id (a per-session string of seen keys). Integer arithmetic only,
-- so a summary does not depend on the order its events arrive in.
-- split(str, sep): features/lua/lib.lua
local H = split(ARGV[1], ',')
local P = H[1]
local TTL = tonumber(H[2])
local FS_TTL = tonumber(H[3])

local sessions, order = {}, {}
local function group(blob, field)
  if blob == '' then return end
  for _, rec in ipairs(split(blob, '\30')) do
    local f = split(rec, '\31')
    local s = sessions[f[2]]
    if not s then
      s = {b = {}, d = {}}
      sessions[f[2]] = s
      order[#order + 1] = f[2]
    end
    s[field][#s[field] + 1] = f
  end
end
group(ARGV[2], 'b')
group(ARGV[3], 'd')

local BF = {'bn', 'bt0', 'bt1', 'bpv', 'bks', 'bksum', 'bksq', 'bpaste', 'bcorr'}
local DF = {'dn', 'dtmax', 'didmax', 'demu', 'droot', 'ddev', 'dip', 'dipc', 'dgeoc', 'dtz'}

for _, sid in ipairs(order) do
  local s = sessions[sid]
  local skey = P .. ':s:' .. sid
  local ekey = P .. ':se:' .. sid
  local raw = redis.call('GET', ekey)
  local seen = raw or ','
  local added = {}
  local function fresh(list)
    local out = {}
    for _, f in ipairs(list) do
      local tag = ',' .. f[1] .. ','
      if not added[f[1]] and not string.find(seen, tag, 1, true) then
        added[f[1]] = true
        added[#added + 1] = f[1]
        out[#out + 1] = f
      end
    end
    return out
  end
  local nb, nd = fresh(s.b), fresh(s.d)
  if #added > 0 then
    local upd = {}
    if #nb > 0 then
      local cur = redis.call('HMGET', skey, unpack(BF))
      local a = {}
      for k = 1, #BF do a[BF[k]] = tonumber(cur[k]) end
      local bn, bpv, bks, bksum, bksq, bpaste, bcorr =
        a.bn or 0, a.bpv or 0, a.bks or 0, a.bksum or 0, a.bksq or 0, a.bpaste or 0, a.bcorr or 0
      local bt0, bt1 = a.bt0, a.bt1
      for _, f in ipairs(nb) do
        local t = tonumber(f[3])
        local ty = f[4]
        bn = bn + 1
        if (not bt0) or t < bt0 then bt0 = t end
        if (not bt1) or t > bt1 then bt1 = t end
        if ty == 'P' then bpv = bpv + 1
        elseif ty == 'A' then bpaste = bpaste + 1
        elseif ty == 'C' then bcorr = bcorr + 1
        elseif ty == 'K' then
          local ik = tonumber(f[5])
          if ik then bks = bks + 1; bksum = bksum + ik; bksq = bksq + ik * ik end
        end
      end
      for _, x in ipairs({'bn', bn, 'bt0', bt0, 'bt1', bt1, 'bpv', bpv, 'bks', bks, 'bksum', bksum,
                          'bksq', bksq, 'bpaste', bpaste, 'bcorr', bcorr}) do
        upd[#upd + 1] = x
      end
    end
    if #nd > 0 then
      local cur = redis.call('HMGET', skey, unpack(DF))
      local a = {}
      for k = 1, #DF do a[DF[k]] = cur[k] end
      local dn = tonumber(a.dn) or 0
      local dtmax = tonumber(a.dtmax)
      local emu, root = tonumber(a.demu) or 0, tonumber(a.droot) or 0
      local latest = {a.didmax, a.ddev, a.dip, a.dipc, a.dgeoc, a.dtz}
      for _, f in ipairs(nd) do
        local t = tonumber(f[3])
        dn = dn + 1
        if f[6] == '1' then emu = 1 end
        if f[7] == '1' then root = 1 end
        -- the latest event (by time, then key) supplies device, ip, countries, timezone
        if (not dtmax) or t > dtmax or (t == dtmax and f[1] > latest[1]) then
          dtmax = t
          latest = {f[1], f[4], f[5], f[8], f[9], f[10]}
        end
        -- device first seen: earliest event time
        local fskey = P .. ':fs:' .. f[4]
        local fs = tonumber(redis.call('GET', fskey) or '')
        if (not fs) or fs > t then redis.call('SET', fskey, t, 'PX', FS_TTL) end
      end
      for _, x in ipairs({'dn', dn, 'dtmax', dtmax, 'didmax', latest[1], 'demu', emu,
                          'droot', root, 'ddev', latest[2], 'dip', latest[3], 'dipc', latest[4],
                          'dgeoc', latest[5], 'dtz', latest[6]}) do
        upd[#upd + 1] = x
      end
    end
    redis.call('HSET', skey, unpack(upd))
    if raw then
      redis.call('APPEND', ekey, table.concat(added, ',') .. ',')
    else
      redis.call('SET', ekey, ',' .. table.concat(added, ',') .. ',')
    end
    redis.call('PEXPIRE', skey, TTL)
    redis.call('PEXPIRE', ekey, TTL)
  end
end
return #order
