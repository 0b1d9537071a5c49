-- The sandbox APIs the audit decoder runs under, for tests under plain lua5.1.
--
-- Usage: lua5.1 harness.lua MODE MODULE_DIR DECODER CONFIG_JSON INPUT_FILE [HOSTNAME]
--
-- MODE "heka": Heka 0.10's SandboxDecoder. DECODER is the decoder file
--   (lua/audit_decoder.lua); process_message() is called once per line
--   (Payload = the line with its "\n", as LogstreamerInput's TokenSplitter
--   delivers it); read_config(name) reads CONFIG_JSON.
-- MODE "hindsight": lua_sandbox_extensions' decoder API as Hindsight's tail
--   input uses it. DECODER is the module name (decoders.audit_heka);
--   decode(line, default_headers) is called once per line (without "\n", as
--   fh:lines() gives it); read_config(name) reads CONFIG_JSON (tables too:
--   the module's options are CONFIG_JSON.decoders_audit_heka, default_headers
--   is CONFIG_JSON.default_headers); inject_message takes only a table.
-- require(name) loads MODULE_DIR/<name with "." as "/">.lua in the sandbox's
-- environment (Heka's module_directory, Hindsight's io_lua_path).
--
-- One JSON object is printed per call:
--   {"n": line number, "rc": return code, "err": reason, "inject": [hex, ...],
--    "instructions": count, "memory_kb": n, "peak_kb": n, "exceeded": "...",
--    "dropped": n, "fatal": "..."}
-- and at end of input, for the decoder's flush hook, calls with "n": "flush"
-- until it reports nothing left (a test hook; neither host has such a call).
--
-- Emulated (heka-wire.md section 5, Heka sandbox_decoder.go, lua_sandbox
-- 97331863 and 1.x, Hindsight's input plugins):
-- * inject_message(string) takes a Heka protobuf as is (Heka only);
--   inject_message(table) is serialised as lua_sandbox does: plain numbers
--   become DOUBLE fields unless value_type = 2 (INTEGER, cast to int64),
--   arrays become repeated values, Uuid is kept only if 16 bytes (else random
--   v4), Timestamp is the number cast to int64 (else now);
-- * Heka drops what a call injected when it returns < 0 (counted in "dropped");
-- * the decoder runs in an environment without io, os, debug, print,
--   load*/dofile, and libraries only through require, as in the sandbox;
-- * the limits, so that tests fail where the sandbox would fail the decoder:
--   instruction_limit (1,000,000 per process_message call, Heka only: Hindsight
--   input plugins have none) with a count hook; memory_limit (8 MiB) as
--   collectgarbage("count") of the decoder's state (the harness's own use,
--   measured before the decoder is loaded, is subtracted), sampled every
--   1,000 instructions and after each call, garbage included as lua_sandbox's
--   allocator counts it; output_limit (64,512 bytes per injected message).
--   In the sandbox exceeding a limit raises an error, which a decoder's pcall
--   can catch; the harness raises it too and reports it in "exceeded" whether
--   or not the decoder caught it.
-- Heka's copying of missing headers from the original pack (e.g. a missing Pid
-- becomes 0) is applied by the Python side (tests/lua_harness.py), which decodes
-- the protobufs.

local cjson = require "cjson"

local mode, module_dir, decoder_path, config_path, input_path, hostname =
    arg[1], arg[2], arg[3], arg[4], arg[5], arg[6]
hostname = hostname or "heka-host"
assert(mode == "heka" or mode == "hindsight", "mode: heka or hindsight")
local INSTRUCTION_LIMIT = 1000000
local MEMORY_LIMIT_KB = 8192
local OUTPUT_LIMIT = 64512

local function read_all(path)
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    return data
end

local config = cjson.decode(read_all(config_path))
local current = {}
local injected = {}

local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- ---------------------------------------------------------------- protobuf
-- An int64 as a protobuf varint (two's complement for negatives), computed on
-- 32-bit halves: 2^64 + n is not exact in a double for small negative n.
local function varint(n)
    local hi, lo
    if n < 0 then
        -- -n is exact, and so are its halves; then negate the pair.
        hi, lo = math.floor(-n / 4294967296), -n % 4294967296
        if lo == 0 then
            hi = (4294967296 - hi) % 4294967296
        else
            hi, lo = 4294967295 - hi, 4294967296 - lo
        end
    else
        hi, lo = math.floor(n / 4294967296), n % 4294967296
    end
    local out = {}
    while hi > 0 or lo >= 128 do
        local low = lo % 128
        out[#out + 1] = string.char(low + 128)
        lo = (lo - low) / 128 + (hi % 128) * 33554432
        hi = math.floor(hi / 128)
    end
    out[#out + 1] = string.char(lo)
    return table.concat(out)
end

local function ld(tag, data) return tag .. varint(#data) .. data end

local function double_bytes(x)
    -- IEEE 754 little-endian, pure Lua.
    local sign = 0
    if x < 0 or (x == 0 and 1 / x < 0) then sign = 1; x = -x end
    local mantissa, exponent
    if x == 0 then
        mantissa, exponent = 0, 0
    elseif x ~= x then
        mantissa, exponent = 2 ^ 51, 2047
    elseif x == math.huge then
        mantissa, exponent = 0, 2047
    else
        local m, e = math.frexp(x)
        exponent = e + 1022
        if exponent <= 0 then
            mantissa = m * 2 ^ (52 + exponent); exponent = 0
        else
            mantissa = (m * 2 - 1) * 2 ^ 52
        end
    end
    local out = {}
    for i = 1, 6 do
        local b = mantissa % 256
        out[i] = string.char(b)
        mantissa = (mantissa - b) / 256
    end
    out[7] = string.char((exponent % 16) * 16 + mantissa)
    out[8] = string.char(sign * 128 + math.floor(exponent / 16))
    return table.concat(out)
end

local function encode_field(name, spec)
    local value, value_type, representation = spec, nil, nil
    if type(spec) == "table" and spec.value ~= nil then
        value, value_type, representation = spec.value, spec.value_type, spec.representation
    end
    local values = type(value) == "table" and value or {value}
    local first = values[1]
    if value_type == nil then
        if type(first) == "number" then value_type = 3
        elseif type(first) == "boolean" then value_type = 4
        else value_type = 0 end
    end
    local out = {ld("\10", name), "\16", string.char(value_type)}
    if representation then out[#out + 1] = ld("\26", representation) end
    if value_type == 0 or value_type == 1 then
        local tag = value_type == 0 and "\34" or "\42"
        for _, v in ipairs(values) do out[#out + 1] = ld(tag, tostring(v)) end
    else
        local packed = {}
        for _, v in ipairs(values) do
            if value_type == 2 then
                local n = v >= 0 and math.floor(v) or math.ceil(v)
                packed[#packed + 1] = varint(n)
            elseif value_type == 3 then
                packed[#packed + 1] = double_bytes(v)
            else
                packed[#packed + 1] = v and "\1" or "\0"
            end
        end
        out[#out + 1] = ld(value_type == 2 and "\50" or value_type == 3 and "\58" or "\66",
                          table.concat(packed))
    end
    return table.concat(out)
end

local function random_uuid()
    local b = {}
    for i = 1, 16 do b[i] = math.random(0, 255) end
    b[7] = b[7] % 16 + 0x40
    b[9] = b[9] % 64 + 0x80
    return string.char(unpack(b))
end

local function serialize_table(t)
    local uuid = (type(t.Uuid) == "string" and #t.Uuid == 16) and t.Uuid or random_uuid()
    local ts = type(t.Timestamp) == "number" and t.Timestamp or os.time() * 1e9
    local ts_text = string.format("%.0f", ts >= 0 and math.floor(ts) or math.ceil(ts))
    local out = {"\10\16", uuid, "\16", varint(tonumber(ts_text))}
    local function str(tag, v) if type(v) == "string" then out[#out + 1] = ld(tag, v) end end
    str("\26", t.Type); str("\34", t.Logger)
    if type(t.Severity) == "number" then out[#out + 1] = "\40" .. varint(math.floor(t.Severity)) end
    str("\50", t.Payload); str("\58", t.EnvVersion)
    if type(t.Pid) == "number" then out[#out + 1] = "\64" .. varint(math.floor(t.Pid)) end
    str("\74", t.Hostname)
    if type(t.Fields) == "table" then
        if #t.Fields > 0 then
            for _, f in ipairs(t.Fields) do out[#out + 1] = ld("\82", encode_field(f.name, f)) end
        else
            local names = {}
            for k in pairs(t.Fields) do names[#names + 1] = k end
            table.sort(names)
            for _, k in ipairs(names) do out[#out + 1] = ld("\82", encode_field(k, t.Fields[k])) end
        end
    end
    return table.concat(out)
end

-- ---------------------------------------------------------------- sandbox API
local function read_message(name)
    return current[name]
end

local function read_config(name)
    local v = config[name]
    if v == cjson.null then return nil end
    return v
end

-- Set by the hook or inject_message when a limit is hit during a call.
local exceeded

local function inject_message(msg)
    -- Hex-encoded after the call, so the harness's own work is not counted
    -- against the decoder's instruction limit.
    local data
    if type(msg) == "string" and mode == "heka" then
        data = msg
    elseif type(msg) == "table" then
        data = serialize_table(msg)
    elseif mode == "hindsight" then
        error("bad argument #1 to 'inject_message' (table expected, got " .. type(msg) .. ")", 2)
    else
        error("inject_message() takes a table or a protobuf string", 2)
    end
    if #data > OUTPUT_LIMIT then
        exceeded = exceeded or "output_limit"
        error("output_limit exceeded", 2)
    end
    injected[#injected + 1] = data
end

local LIBS = {string = string, table = table, math = math, lpeg = nil, cjson = cjson}
local ok_lpeg, lpeg = pcall(require, "lpeg")
if ok_lpeg then LIBS.lpeg = lpeg end

local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, setmetatable = setmetatable, getmetatable = getmetatable,
    tonumber = tonumber, tostring = tostring, type = type, unpack = unpack, rawget = rawget,
    rawset = rawset, rawequal = rawequal, xpcall = xpcall, collectgarbage = collectgarbage,
    setfenv = setfenv,
    read_message = read_message, read_config = read_config, inject_message = inject_message,
}
if mode == "hindsight" then
    -- Hindsight's sandboxes are created without collectgarbage (lua_sandbox's
    -- remove_entries in hindsight's hs_*_plugins.c); Heka 0.10 keeps it.
    env.collectgarbage = nil
end
env._G = env
local loaded = {}
env.require = function(name)
    local lib = LIBS[name]
    if lib ~= nil then
        env[name] = lib
        return lib
    end
    if loaded[name] == nil then
        local path = module_dir .. "/" .. name:gsub("%.", "/") .. ".lua"
        local chunk, err = loadfile(path)
        if not chunk then error("module '" .. tostring(name) .. "' not found: " .. err, 2) end
        setfenv(chunk, env)
        loaded[name] = chunk(name) or true
    end
    return loaded[name]
end

local function emit(obj) io.write(cjson.encode(obj), "\n") end

-- What the harness itself holds, not counted against the decoder.
collectgarbage("collect")
local harness_kb = collectgarbage("count")

local function memory_kb() return collectgarbage("count") - harness_kb end

local decode, flush_module
if mode == "heka" then
    local chunk, load_err = loadfile(decoder_path)
    if not chunk then
        emit({n = "load", fatal = load_err})
        os.exit(1)
    end
    setfenv(chunk, env)
    local load_ok, load_error = pcall(chunk)
    if not load_ok then
        emit({n = "load", fatal = tostring(load_error)})
        os.exit(1)
    end
else
    local load_ok, module = pcall(env.require, decoder_path)
    if not load_ok or type(module) ~= "table" or type(module.decode) ~= "function" then
        emit({n = "load", fatal = tostring(module)})
        os.exit(1)
    end
    decode, flush_module = module.decode, module
end

-- Runs fn as one sandbox call under the limits; returns its results.
local function call(n, fn)
    injected = {}
    exceeded = nil
    local count, peak = 0, memory_kb()
    debug.sethook(function()
        count = count + 1000
        local mem = memory_kb()
        if mem > peak then peak = mem end
        if mem > MEMORY_LIMIT_KB then
            exceeded = exceeded or "memory_limit"
            error("memory_limit exceeded")
        end
        if mode == "heka" and count > INSTRUCTION_LIMIT then
            exceeded = exceeded or "instruction_limit"
            error("instruction_limit exceeded")
        end
    end, "", 1000)
    local ok, rc, err, more = pcall(fn)
    debug.sethook()
    local mem = memory_kb()
    if mem > peak then peak = mem end
    if peak > MEMORY_LIMIT_KB then exceeded = exceeded or "memory_limit" end
    local dropped = 0
    if ok and type(rc) == "number" and rc < 0 and mode == "heka" then
        dropped = #injected  -- Heka drops the packs of a failed call
        injected = {}
    end
    for i = 1, #injected do injected[i] = hex(injected[i]) end
    local result = {n = n, inject = injected, instructions = count,
                    memory_kb = math.floor(mem), peak_kb = math.floor(peak),
                    exceeded = exceeded, dropped = dropped}
    if not ok then
        result.fatal = tostring(rc)
    else
        result.rc = rc
        result.err = err
    end
    emit(result)
    if not ok or (type(rc) == "number" and rc > 0) then os.exit(2) end
    return more
end

local default_headers = config.default_headers
if default_headers == cjson.null then default_headers = nil end

local function feed(n, line)
    if mode == "heka" then
        current = {Payload = line, Type = "logfile", Logger = "AuditLogInput",
                   Hostname = hostname}
        call(n, env.process_message)
    else
        current = {}
        call(n, function()
            local err = decode((line:gsub("\n$", "")), default_headers)
            if err ~= nil then return -1, err end
            return 0
        end)
    end
end

-- The input is read in blocks and split at "\n" (a whole file held here would
-- count as the decoder's memory; Lua 5.1's read("*l") stops at a NUL byte); a
-- last line without "\n" is delivered as is.
local f = assert(io.open(input_path, "rb"))
local n, buffer = 0, ""
while true do
    local block = f:read(65536)
    if block == nil then break end
    buffer = buffer .. block
    local start = 1
    while true do
        local nl = buffer:find("\n", start, true)
        if not nl then break end
        n = n + 1
        feed(n, buffer:sub(start, nl))
        start = nl + 1
    end
    buffer = buffer:sub(start)
end
f:close()
if buffer ~= "" then
    n = n + 1
    feed(n, buffer)
end
buffer = nil

local flush
if mode == "heka" then
    flush = env.flush_events
elseif flush_module.flush then
    local emitter = flush_module.table_emitter(default_headers)
    flush = function()
        local rc, err, more = flush_module.flush(hostname, emitter)
        return rc, err, more
    end
end
if flush then
    for _ = 1, 100000 do
        if not call("flush", flush) then break end
    end
end
