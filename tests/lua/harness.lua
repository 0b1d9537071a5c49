-- Heka's SandboxDecoder API for running a decoder under plain lua5.1 in tests.
--
-- Usage: lua5.1 harness.lua DECODER CONFIG_JSON INPUT_FILE [HOSTNAME]
--
-- Feeds INPUT_FILE to the decoder one line per message (Payload = the line with
-- its "\n", as LogstreamerInput's TokenSplitter delivers it) and prints one JSON
-- object per process_message call:
--   {"n": line number, "rc": return code, "err": reason, "inject": [hex, ...],
--    "instructions": count, "memory_kb": n, "fatal": "..."}
-- and, at end of input, one with "n": "flush" for the decoder's flush_events()
-- (a test hook; Heka has no end-of-input call for decoders).
--
-- What is emulated (heka-wire.md section 5, Heka sandbox_decoder.go, lua_sandbox
-- 97331863):
-- * read_message("Payload" | "Hostname" | "Type" | "Logger" | ...) of the input
--   pack (Type "logfile", Logger "AuditLogInput", Hostname HOSTNAME);
-- * read_config(name) from CONFIG_JSON (strings, booleans, numbers);
-- * inject_message(string) takes a Heka protobuf as is; inject_message(table)
--   is serialised as lua_sandbox does: plain numbers become DOUBLE fields unless
--   value_type = 2 (INTEGER), arrays become repeated values, Uuid is kept only if
--   16 bytes (else random v4), Timestamp is the number cast to int64 (else now);
-- * the decoder is loaded in an environment without io, os, debug, print,
--   load*/dofile, and libraries only through require (string, table, math, lpeg,
--   cjson), as in the sandbox;
-- * instruction_limit (1,000,000 per process_message call, as configured in
--   heka.toml) is enforced with a count hook: exceeding it is "fatal", which in
--   Heka terminates the sandbox.
-- Heka's copying of missing headers from the original pack (e.g. a missing Pid
-- becomes 0) is applied by the Python side (tests/lua_harness.py), which decodes
-- the protobufs.

local cjson = require "cjson"

local decoder_path, config_path, input_path, hostname = arg[1], arg[2], arg[3], arg[4]
hostname = hostname or "heka-host"
local INSTRUCTION_LIMIT = 1000000

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
local function varint(n)
    local out = {}
    if n < 0 then n = n + 18446744073709551616 end
    while n >= 128 do
        local low = n % 128
        out[#out + 1] = string.char(low + 128)
        n = (n - low) / 128
    end
    out[#out + 1] = string.char(n)
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

local function inject_message(msg)
    -- Hex-encoded after the call, so the harness's own work is not counted
    -- against the decoder's instruction limit.
    if type(msg) == "string" then
        injected[#injected + 1] = msg
    elseif type(msg) == "table" then
        injected[#injected + 1] = serialize_table(msg)
    else
        error("inject_message() takes a table or a protobuf string", 2)
    end
end

local LIBS = {string = string, table = table, math = math, lpeg = nil, cjson = cjson}
local ok_lpeg, lpeg = pcall(require, "lpeg")
if ok_lpeg then LIBS.lpeg = lpeg end

local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, setmetatable = setmetatable, getmetatable = getmetatable,
    tonumber = tonumber, tostring = tostring, type = type, unpack = unpack, rawget = rawget,
    rawset = rawset, rawequal = rawequal, xpcall = xpcall,
    read_message = read_message, read_config = read_config, inject_message = inject_message,
}
env._G = env
env.require = function(name)
    local lib = LIBS[name]
    if lib == nil then error("module '" .. tostring(name) .. "' not found", 2) end
    env[name] = lib
    return lib
end

local function emit(obj) io.write(cjson.encode(obj), "\n") end

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

local function call(n, fn)
    injected = {}
    local count = 0
    debug.sethook(function()
        count = count + 1000
        if count > INSTRUCTION_LIMIT then
            error("instruction_limit exceeded")
        end
    end, "", 1000)
    local ok, rc, err = pcall(fn)
    debug.sethook()
    for i = 1, #injected do injected[i] = hex(injected[i]) end
    local result = {n = n, inject = injected, instructions = count,
                    memory_kb = math.floor(collectgarbage("count"))}
    if not ok then
        result.fatal = tostring(rc)
    else
        result.rc = rc
        result.err = err
    end
    emit(result)
    if not ok or (type(rc) == "number" and rc > 0) then os.exit(2) end
end

local data = read_all(input_path)
local n = 0
for line in data:gmatch("([^\n]*)\n") do
    n = n + 1
    current = {Payload = line .. "\n", Type = "logfile", Logger = "AuditLogInput",
               Hostname = hostname}
    call(n, env.process_message)
end
-- A last line without "\n" (found without an unanchored "$" pattern, which
-- would be quadratic on long lines).
local last_nl = 0
for i = #data, 1, -1 do
    if data:byte(i) == 10 then last_nl = i; break end
end
local tail = last_nl < #data and data:sub(last_nl + 1) or nil
if tail then
    n = n + 1
    current = {Payload = tail, Type = "logfile", Logger = "AuditLogInput", Hostname = hostname}
    call(n, env.process_message)
end
if env.flush_events then call("flush", env.flush_events) end
