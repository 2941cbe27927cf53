import { describe, expect, it } from "vitest";
import type { Container } from "./model.js";
import {
  composeFilesOf,
  customNetworks,
  isProjectFile,
  REDACTED,
  redactEnvEntry,
  redactInspect,
  relocateBind,
  resolveThroughMounts,
} from "./recipe.js";

const container = (over: Partial<Container>): Container => ({
  id: "id",
  name: "c",
  image: "img",
  state: "running",
  labels: {},
  mounts: [],
  ...over,
});

describe("recipe rules", () => {
  it("redacts env values whose names look secret, and only those", () => {
    expect(redactEnvEntry("DB_PASSWORD=hunter2")).toBe(`DB_PASSWORD=${REDACTED}`);
    expect(redactEnvEntry("api_key=x")).toBe(`api_key=${REDACTED}`);
    expect(redactEnvEntry("OAUTH_CLIENT=x")).toBe(`OAUTH_CLIENT=${REDACTED}`);
    expect(redactEnvEntry("MODE=production")).toBe("MODE=production");
    expect(redactEnvEntry("NOVALUE")).toBe("NOVALUE");
    const doc = { Config: { Env: ["SECRET=1", "PLAIN=2"] } };
    expect(redactInspect(doc)).toEqual({ Config: { Env: [`SECRET=${REDACTED}`, "PLAIN=2"] } });
    expect(doc.Config.Env[0]).toBe("SECRET=1");
  });

  it("resolves relative compose files against the working dir (Compose v1) and keeps absolute ones", () => {
    const labels = {
      "com.docker.compose.project.config_files": "docker-compose.yml, /abs/override.yml",
      "com.docker.compose.project.working_dir": "/srv/app",
    };
    expect(composeFilesOf({ labels })).toEqual(["/srv/app/docker-compose.yml", "/abs/override.yml"]);
    expect(composeFilesOf({ labels: {} })).toEqual([]);
  });

  it("knows project files", () => {
    expect(
      ["env", ".env", ".env.prod", "nginx.conf", "app.config", "pyproject.toml", "data.json"].filter(
        isProjectFile,
      ),
    ).toEqual([".env", ".env.prod", "nginx.conf", "app.config", "pyproject.toml"]);
  });

  it("moves binds inside the project along with it, and leaves others", () => {
    expect(relocateBind("/srv/app/data", "/srv/app", "/opt/stacks/app")).toBe("/opt/stacks/app/data");
    expect(relocateBind("/srv/app", "/srv/app", "/opt/stacks/app")).toBe("/opt/stacks/app");
    expect(relocateBind("/srv/application", "/srv/app", "/opt/stacks/app")).toBe("/srv/application");
    expect(relocateBind("/mnt/media", "/srv/app", "/opt/stacks/app")).toBe("/mnt/media");
    expect(relocateBind("/srv/app/x", undefined, "/opt/stacks/app")).toBe("/srv/app/x");
  });

  it("finds a managing container's path on the host through its mounts, deepest mount first", () => {
    const manager = container({
      mounts: [
        { kind: "bind", source: "/host/stacks", destination: "/data/compose", readOnly: false },
        { kind: "bind", source: "/host/special", destination: "/data/compose/special", readOnly: false },
        { kind: "volume", name: "v", destination: "/data", readOnly: false },
      ],
    });
    expect(resolveThroughMounts("/data/compose/app/docker-compose.yml", [manager])).toEqual([
      "/host/stacks/app/docker-compose.yml",
    ]);
    expect(resolveThroughMounts("/data/compose/special/x.yml", [manager])).toEqual([
      "/host/special/x.yml",
      "/host/stacks/special/x.yml",
    ]);
    expect(resolveThroughMounts("/elsewhere/x.yml", [manager])).toEqual([]);
  });

  it("lists custom networks only", () => {
    expect(
      customNetworks([
        container({ networks: ["bridge", "app_net"] }),
        container({ networks: ["host", "b", "app_net"] }),
      ]),
    ).toEqual(["app_net", "b"]);
  });
});
