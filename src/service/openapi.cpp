// The OpenAPI document of the service: the routes of docs/api.md, and the
// job spec's schema, whose `params` are generated from the stages' own
// parameter declarations (the same ones the CLI's flags come from).
#include "likeness/params.hpp"
#include "likeness/purpose.hpp"
#include "likeness/service.hpp"
#include "likeness/stage.hpp"
#include "likeness/studio.hpp"

namespace likeness {

namespace {

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json op(const std::string& summary, int status, const json& response_schema, const json& request = nullptr,
        bool auth = true) {
  json o = {
      {"summary", summary},
      {"responses",
       {{std::to_string(status),
         {{"description", "success"}, {"content", {{"application/json", {{"schema", response_schema}}}}}}},
        {"default", {{"description", "error"}, {"content", {{"application/json", {{"schema", ref("Error")}}}}}}}}}};
  if (!request.is_null()) o["requestBody"] = {{"required", true}, {"content", request}};
  if (!auth) o["security"] = json::array();
  return o;
}

json json_body(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }

json multipart(const std::string& field) {
  const json file = {{"type", "string"}, {"format", "binary"}};
  const json files = {{"type", "array"}, {"items", file}};
  json props = json::object();
  props[field] = files;
  const json schema = {{"type", "object"}, {"properties", props}};
  return {{"multipart/form-data", {{"schema", schema}}}};
}

json binary(const std::string& summary, const std::string& mime) {
  return {{"summary", summary},
          {"responses",
           {{"200",
             {{"description", "the file"},
              {"content", {{mime, {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}}},
            {"default", {{"description", "error"}, {"content", {{"application/json", {{"schema", ref("Error")}}}}}}}}}};
}

json id_param(const std::string& name) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

}  // namespace

json openapi_document() {
  // The job's stage parameters: one property per stage, each parameter's
  // schema from its declaration (files excluded: a spec names none).
  json params = {{"type", "object"}, {"additionalProperties", false}, {"properties", json::object()}};
  for (const Stage* st : all_stages()) {
    json props = json::object();
    for (const ParamSpec& p : st->params()) {
      if (p.type == ParamType::path) continue;
      props[p.key] = p.schema();
    }
    if (props.empty()) continue;
    params["properties"][st->id()] = {
        {"type", "object"}, {"description", st->summary()}, {"additionalProperties", false}, {"properties", props}};
  }
  json text = {{"type", "string"}, {"maxLength", 2000}};
  const json spec = {{"type", "object"},
                     {"required", {"subject"}},
                     {"additionalProperties", false},
                     {"properties",
                      {{"subject", {{"type", "string"}}},
                       {"prompt", text},
                       {"attire", text},
                       {"setting", text},
                       {"lighting", text},
                       {"composition", text},
                       {"purpose", {{"type", "string"}, {"enum", purpose_names()}}},
                       {"use", {{"type", "string"}, {"enum", {"", "personal", "commercial"}}}},
                       {"count", {{"type", "integer"}, {"minimum", 1}, {"maximum", ShootSpec::kMaxCount}}},
                       {"min_likeness", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
                       {"params", params}}}};
  const json error = {
      {"type", "object"},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties",
           {{"code",
             {{"type", "string"},
              {"enum",
               {"usage", "unauthenticated", "csrf", "no_consent", "not_found", "conflict", "too_large", "bad_input",
                "queue_full", "internal", "cancelled", "unavailable", "invalid", "unsupported_media_type"}}}},
            {"message", {{"type", "string"}}},
            {"file", {{"type", "string"}}},
            {"param", {{"type", "string"}}},
            {"stage", {{"type", "string"}}}}}}}}}};
  const json obj = {{"type", "object"}};
  json paths = json::object();
  paths["/api/health"]["get"] = op("Liveness (no authentication)", 200, obj, nullptr, false);
  paths["/api/openapi.json"]["get"] = op("This document", 200, obj, nullptr, false);
  paths["/api/users"]["post"] = op("Create a user and sign in", 201, obj, json_body(obj), false);
  paths["/api/session"]["post"] = op("Sign in", 200, obj, json_body(obj), false);
  paths["/api/session"]["get"] = op("The session and its CSRF token", 200, obj, nullptr, false);
  paths["/api/session"]["delete"] = op("Sign out", 204, obj);
  paths["/api/tokens"]["post"] = op("A bearer token for scripts", 201, obj, json_body(obj));
  paths["/api/purposes"]["get"] = op("What portraits can be for", 200, obj);
  paths["/api/consent-text"]["get"] = op("What a person agrees to", 200, obj);
  paths["/api/plan"]["post"] = op("The recipe a prompt makes, and what it will not do", 200, obj, json_body(obj));
  paths["/api/subjects"]["post"] = op("Add a person", 201, obj, json_body(obj));
  paths["/api/subjects"]["get"] = op("Your people", 200, obj);
  paths["/api/subjects/{id}"]["get"] = op("A person", 200, obj);
  paths["/api/subjects/{id}"]["delete"] = op("Delete everything about a person", 200, obj);
  paths["/api/subjects/{id}/consent"]["post"] = op("Record consent", 201, obj, json_body(obj));
  paths["/api/subjects/{id}/consent"]["get"] = op("The newest consent record", 200, obj);
  paths["/api/subjects/{id}/consent"]["delete"] = op("Withdraw consent", 200, obj);
  paths["/api/subjects/{id}/photos"]["post"] = op("Upload photos (intake report)", 201, obj, multipart("photos"));
  paths["/api/subjects/{id}/photos"]["get"] = op("The photos and their intake report", 200, obj);
  paths["/api/subjects/{id}/rank"]["post"] =
      op("Rank headshots from anywhere against the person", 200, obj, multipart("candidates"));
  paths["/api/photos/{id}"]["delete"] = op("Delete a photo", 204, obj);
  paths["/api/photos/{id}/thumbnail"]["get"] = binary("A photo's thumbnail", "image/jpeg");
  paths["/api/jobs"]["post"] =
      op("Submit a shoot (Idempotency-Key header)", 202, ref("Job"), json_body(ref("ShootSpec")));
  paths["/api/jobs"]["get"] = op("Your jobs", 200, obj);
  paths["/api/jobs/{id}"]["get"] = op("A job, its progress and outputs", 200, ref("Job"));
  paths["/api/jobs/{id}/cancel"]["post"] = op("Cancel a job", 200, ref("Job"));
  paths["/api/jobs/{id}/events"]["get"] = binary("Server-sent progress events", "text/event-stream");
  paths["/api/jobs/{id}/contact-sheet"]["get"] = binary("The job's contact sheet", "image/jpeg");
  paths["/api/outputs/{id}"]["get"] =
      binary("A portrait (?format=jpeg|png&size=N converts and signs again)", "image/jpeg");
  paths["/api/outputs/{id}/edit-map"]["get"] = binary("The portrait's edit map", "image/png");
  paths["/api/outputs/{id}/before"]["get"] = binary("The source under the same framing", "image/jpeg");
  paths["/api/outputs/{id}/sidecar"]["get"] = binary("The recipe and provenance", "application/json");
  paths["/api/verify"]["post"] = op("What a file's Content Credentials say", 200, obj, multipart("file"));
  for (auto& [path, methods] : paths.items())
    if (path.find("{id}") != std::string::npos)
      for (auto& [m, o] : methods.items()) o["parameters"] = json::array({id_param("id")});
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "likeness"}, {"version", LIKENESS_VERSION}}},
          {"servers", json::array({{{"url", "/"}}})},
          {"security", json::array({{{"session", json::array()}}, {{"bearer", json::array()}}})},
          {"paths", paths},
          {"components",
           {{"securitySchemes",
             {{"session", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "likeness_session"}}},
              {"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
            {"schemas",
             {{"ShootSpec", spec},
              {"Error", error},
              {"Job",
               {{"type", "object"},
                {"properties",
                 {{"id", {{"type", "string"}}},
                  {"state", {{"type", "string"}, {"enum", {"queued", "running", "done", "failed", "cancelled"}}}},
                  {"progress", obj},
                  {"outputs", {{"type", "array"}, {"items", obj}}}}}}}}}}}};
}

}  // namespace likeness
