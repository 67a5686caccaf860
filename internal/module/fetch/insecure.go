package fetch

import (
	"crypto/tls"
	"net/http"
)

// insecureClient is used when validate_certs is false.
var insecureClient = &http.Client{Transport: &http.Transport{
	Proxy:           http.ProxyFromEnvironment,
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the user asked for it (validate_certs: false)
}}
