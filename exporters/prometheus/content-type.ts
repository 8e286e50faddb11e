// The exposition formats' content types, apart from the serializer so that the endpoint's server
// names them without loading it.
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
