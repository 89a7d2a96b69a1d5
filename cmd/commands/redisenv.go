package commands

import "github.com/docker-stateful/docker-stateful/plugin/redisstate"

// redisGetenv is the environment as update --verify, snapshot and verify read it:
// REDISCLI_AUTH is taken out of the process environment at start (package init, before
// docker connects anywhere), so no process the plugin starts (docker's ssh helper for
// ssh:// hosts, credential helpers) inherits the Redis password.
var redisGetenv = redisstate.TakeEnvPassword()
