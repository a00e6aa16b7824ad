-- The identity graph: record applications and return each one's graph features as of its
-- own event time. Run in the same round trip as compute.lua (one pipeline per batch).
--
-- ARGV[1] (comma-separated): prefix, retention_ms, lateness_ms, key_ttl_ms, vector_ttl_ms,
--          ids_ttl_ms (how long an application's nodes are kept for look-back alerts), hub (apps in 30 d above which an identifier links nothing), component cap,
--          nW, W1..WnW (link windows; the last is the graph window)
-- ARGV[2]: applications separated by \30, fields by \31: app_id, event_time, h_id,
--          then one hash per NODE kind below ('' when the application has none),
--          person key hash (surname + date of birth), email hash, email skeleton hash, mode
-- mode 'p' (peek: a quote request): the same features as if the application were made now,
--   and the graph left as it was found (its members removed again, nothing trimmed or stored).
-- Returns one JSON array per application:
--   [linked per W..., linked via address, employer, bank (last W), two_hop, component,
--    component_fraud, same_person_at_address, email_digit_variants, component_declined]
-- Graph: applications with event time in (t - W, t] link their identity to each of their
-- identifier nodes. An identifier with more than HUB applications in the graph window is
-- a hub (a carrier or office IP, a large employer): it links nothing. Linked = other
-- identities that used one of THIS application's (non-hub) identifiers in the window.
-- Two-hop and component: breadth-first over identities in the graph window from this
-- application's identity, stopped at CCAP identities (so both are exact below CCAP).
-- Component declined: its identities with a DECLINE recorded (decline.lua) for an
-- application with event time in (t - GW, t), strictly before this one.
-- Idempotent: an application already computed returns its stored result.
-- Bounded memory: every sorted set written is kept by upkeep() (lib.lua): trimmed to
-- retention + lateness behind t, its expiry renewed once a quarter of a day of event time.
-- split, record, above, quarter, json_numbers: features/lua/lib.lua
local H = split(ARGV[1], ',')
local P = H[1] .. ':g:'
local RET, LATE = tonumber(H[2]), tonumber(H[3])
local KEY_TTL, VEC_TTL, IDS_TTL = H[4], H[5], H[6]  -- strings: given to Redis as they are
local HUB, CCAP = tonumber(H[7]), tonumber(H[8])
local nW = tonumber(H[9]); local W = {}
for k = 1, nW do W[k] = tonumber(H[9 + k]) end
local GW = W[nW]
local NODES = {'dev', 'ph', 'em', 'ip', 'ad', 'emp', 'bk'}
local AD = 5  -- NODES[AD]: its members carry the person key
local COSTLY = {ad = 1, emp = 2, bk = 3}  -- reported apart (last window)
local FP = H[1] .. ':f:id:'  -- confirmed-fraud flags of identities (fraud.lua)
local L = HUB + 1  -- a page: at most L members (more than HUB in the window: a hub)
local SL, SHUB = tostring(L), tostring(HUB)
local KEEP = RET + LATE

-- the application being computed: its time (number and string), the window's open lower
-- bound, its expiry bucket, whether it is a peek and what to undo then
local t, ts, lo, bucket
local peek, undo = false, {}

-- Record member in key and return the key's members in the window (newest first, scores as
-- numbers after each), at most L. One read serves the features and the key's upkeep: it
-- shows every member at or before t, of any age, unless there are more than L.
local function put(key, member)
  local r, added = record(key, member, t, ts, L, SL, KEEP, bucket, KEY_TTL, peek)
  if peek and added == 1 then undo[#undo + 1] = {key, member} end
  return above(r, t - GW)
end

-- members of an identifier node in the graph window (false for a hub), per application;
-- scored[key]: read by put, a score after each member
local pages, scored = {}, {}
local function page(key)
  local r = pages[key]
  if r == nil then
    r = redis.call('ZREVRANGEBYSCORE', key, ts, lo, 'LIMIT', '0', SL)
    if #r > HUB then r = false end
    pages[key] = r
  end
  return r
end

local function member_identity(m)  -- "app|idh|aux" -> idh, aux
  local a = string.find(m, '|', 1, true)
  local b = string.find(m, '|', a + 1, true)
  return string.sub(m, a + 1, b - 1), string.sub(m, b + 1)
end

-- Breadth-first over identities in the graph window from idh (own: its applications, from
-- put): the component's identities in visit order, and how many were two hops away.
local function component(idh, own)
  local seen, order, frontier = {[idh] = true}, {idh}, {idh}
  local seen_node, level, two_hop = {}, 0, 0
  while #frontier > 0 and #order < CCAP do
    level = level + 1
    local nxt = {}
    for _, who in ipairs(frontier) do
      if #order >= CCAP then break end
      local apps, last, step = own, math.min(#own, 2 * HUB), 2
      if who ~= idh then
        apps = redis.call('ZREVRANGEBYSCORE', P .. 'id:' .. who, ts, lo, 'LIMIT', '0', SHUB)
        last, step = #apps, 1
      end
      for i = 1, last, step do
        local m = apps[i]
        local bar = string.find(m, '|', 1, true)
        for node in string.gmatch(string.sub(m, bar + 1), '[^,]+') do
          if not seen_node[node] and #order < CCAP then
            seen_node[node] = true
            local key = P .. node
            local r = page(key)
            if r then
              for j = 1, #r, scored[key] and 2 or 1 do
                local other = member_identity(r[j])
                if not seen[other] and #order < CCAP then
                  seen[other] = true
                  order[#order + 1] = other
                  nxt[#nxt + 1] = other
                  if level == 2 then two_hop = two_hop + 1 end
                end
              end
            end
          end
        end
      end
    end
    frontier = nxt
  end
  return order, two_hop
end

local out = {}
for _, blob in ipairs(split(ARGV[2], '\30')) do
  local f = split(blob, '\31')
  local app, idh = f[1], f[3]
  ts = f[2]; t = tonumber(ts); lo = '(' .. (t - GW)
  bucket = quarter(t, KEY_TTL, KEEP)
  local vkey = P .. 'v:' .. app
  peek, undo = f[14] == 'p', {}
  local cached = (not peek) and redis.call('GET', vkey)
  if cached then out[#out + 1] = cached else
    pages, scored = {}, {}
    local nodes, kinds = {}, {}
    local pk, emh, skh = f[11], f[12], f[13]
    local tail = '|' .. idh .. '|'
    for k = 1, #NODES do
      local h = f[3 + k]
      if h ~= '' then
        local node = NODES[k] .. ':' .. h
        nodes[#nodes + 1] = node
        kinds[#kinds + 1] = NODES[k]
        local key = P .. node
        local r = put(key, app .. tail .. (k == AD and pk or ''))
        pages[key] = #r <= 2 * HUB and r
        scored[key] = true
      end
    end
    local node_list = table.concat(nodes, ',')
    local own = put(P .. 'id:' .. idh, app .. '|' .. node_list)
    if not peek then redis.call('SET', P .. 'a:' .. app, idh .. ',' .. node_list, 'PX', IDS_TTL) end
    local sk = put(P .. 'sk:' .. skh, app .. '|' .. emh)
    -- linked identities per window, through this application's identifiers
    local best, costly = {}, {{}, {}, {}}
    local ncost = {0, 0, 0}
    local same_person, nsame = {}, 0
    for i, node in ipairs(nodes) do
      local kind = kinds[i]
      local r = pages[P .. node]
      if r then
        local c = COSTLY[kind]
        for j = 1, #r, 2 do
          local other, aux = member_identity(r[j])
          if other ~= idh then
            local s = r[j + 1]
            if (best[other] or -1) < s then best[other] = s end
            if c and not costly[c][other] then costly[c][other] = true; ncost[c] = ncost[c] + 1 end
            if kind == 'ad' and aux == pk and not same_person[other] then
              same_person[other] = true; nsame = nsame + 1
            end
          end
        end
      end
    end
    local res = {}
    for w = 1, nW do
      local n = 0
      for _, s in pairs(best) do if s > t - W[w] then n = n + 1 end end
      res[#res + 1] = n
    end
    for c = 1, 3 do res[#res + 1] = ncost[c] end
    local order, two_hop = component(idh, own)
    local fk = {}
    for i, who in ipairs(order) do fk[i] = FP .. who end
    local flags = redis.call('MGET', unpack(fk))
    local nf = 0
    for i = 1, #order do if flags[i] and tonumber(flags[i]) <= t then nf = nf + 1 end end
    res[#res + 1] = two_hop
    res[#res + 1] = #order
    res[#res + 1] = nf
    res[#res + 1] = nsame
    -- email near matches: other emails with the same skeleton (digits removed)
    local emails, nem = {}, 0
    for j = 1, math.min(#sk, 2 * HUB), 2 do
      local m = sk[j]
      local e = string.sub(m, string.find(m, '|', 1, true) + 1)
      if e ~= emh and not emails[e] then emails[e] = true; nem = nem + 1 end
    end
    res[#res + 1] = nem
    local nd, before, dk = 0, '(' .. ts, {}
    for j, who in ipairs(order) do dk[j] = P .. 'dc:' .. who end
    if #dk == 1 or redis.call('EXISTS', unpack(dk)) > 0 then  -- any declines at all
      for _, key in ipairs(dk) do
        if redis.call('ZCOUNT', key, lo, before) > 0 then nd = nd + 1 end
      end
    end
    res[#res + 1] = nd
    local enc = json_numbers(res)
    if peek then
      for _, u in ipairs(undo) do redis.call('ZREM', u[1], u[2]) end
    else
      redis.call('SET', vkey, enc, 'PX', VEC_TTL)
    end
    out[#out + 1] = enc
  end
end
return out
