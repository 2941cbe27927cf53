import { describe, expect, it } from "vitest";
import { composeFileDependencies } from "./compose-file.js";

const asObject = (map: Map<string, string[]>) => Object.fromEntries(map);

describe("composeFileDependencies", () => {
  it("reads depends_on as a list and as a map, links and volumes_from, and network_mode service:x", () => {
    const doc = {
      version: "2.4",
      services: {
        db: { image: "postgres" },
        cache: { image: "redis" },
        app: {
          depends_on: { db: { condition: "service_healthy" }, cache: { condition: "service_started" } },
        },
        web: { depends_on: ["app"], links: ["cache:redis"] },
        backup: { volumes_from: ["db:ro", "container:legacy", "service:cache:rw"] },
        vpn: {},
        torrent: { network_mode: "service:vpn" },
        host: { network_mode: "host" },
      },
    };
    expect(asObject(composeFileDependencies([doc]))).toEqual({
      db: [],
      cache: [],
      app: ["db", "cache"],
      web: ["app", "cache"],
      backup: ["db", "cache"],
      vpn: [],
      torrent: ["vpn"],
      host: [],
    });
  });

  it("reads format 1 (services at the top level, no version)", () => {
    const doc = { web: { image: "nginx", links: ["db"] }, db: { image: "mysql" } };
    expect(asObject(composeFileDependencies([doc]))).toEqual({ web: ["db"], db: [] });
  });

  it("merges files as compose does: lists add up, a later network_mode replaces an earlier one", () => {
    const base = { services: { web: { depends_on: ["db"], network_mode: "service:vpn" }, db: {}, vpn: {} } };
    const override = { services: { web: { depends_on: ["cache"], network_mode: "bridge" }, cache: {} } };
    expect(asObject(composeFileDependencies([base, override]))).toEqual({
      web: ["db", "cache"],
      db: [],
      vpn: [],
      cache: [],
    });
  });

  it("ignores what is not a service definition, and a service naming itself", () => {
    const doc = { version: "3", services: { odd: "text", self: { depends_on: ["self", 7, ""] } } };
    expect(asObject(composeFileDependencies([doc, null, "x", { version: "3" }]))).toEqual({
      odd: [],
      self: [],
    });
  });
});
