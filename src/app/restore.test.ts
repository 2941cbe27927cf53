import { describe, expect, it } from "vitest";
import type { Container, ContainerMount } from "../domain/model.js";
import { besideIsOutOfSight } from "./restore.js";

const container = (...mounts: ContainerMount[]) => ({ mounts }) as unknown as Container;
const bind = (source: string): ContainerMount => ({
  kind: "bind",
  source,
  destination: "/x",
  readOnly: false,
});

describe("besideIsOutOfSight", () => {
  const volume = "/var/lib/docker/volumes/shop_db/_data";

  it("a volume's directory: its siblings are seen by no container", () => {
    const c = container({ kind: "volume", name: "shop_db", destination: "/var/lib/db", readOnly: false });
    expect(besideIsOutOfSight(volume, [c, container(bind("/srv/shop/conf"))])).toBe(true);
  });

  it("a bind source whose parent a container mounts: its siblings are in sight", () => {
    expect(besideIsOutOfSight("/srv/shop/data", [container(bind("/srv/shop"))])).toBe(false);
    expect(besideIsOutOfSight("/srv/shop/data", [container(bind("/srv/"))])).toBe(false);
    expect(besideIsOutOfSight(volume, [container(bind("/var/lib/docker/volumes"))])).toBe(false);
  });

  it("the bind source itself, or a directory that only shares a prefix, does not count", () => {
    expect(besideIsOutOfSight("/srv/shop/data", [container(bind("/srv/shop/data"))])).toBe(true);
    expect(besideIsOutOfSight("/srv/shop/data", [container(bind("/srv/sh"))])).toBe(true);
  });
});
