// The Docker adapter: the Engine API through dockerode, mapped into domain types.
import Docker from "dockerode";
import { z } from "zod";
import { EnvironmentError, ExternalError, errorMessage } from "../../domain/errors.js";
import type { Container, ContainerMount, ContainerState, Volume } from "../../domain/model.js";

const labelsSchema = z
  .record(z.string())
  .nullish()
  .transform((v) => v ?? {});

const containerSummarySchema = z.object({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  Image: z.string().nullish(),
  State: z.string().nullish(),
  Labels: labelsSchema,
  NetworkSettings: z.object({ Networks: z.record(z.unknown()).nullish() }).nullish(),
  HostConfig: z.object({ NetworkMode: z.string().nullish() }).nullish(),
  Mounts: z
    .array(
      z.object({
        Type: z.string().nullish(),
        Name: z.string().nullish(),
        Source: z.string().nullish(),
        Destination: z.string().nullish(),
        RW: z.boolean().nullish(),
      }),
    )
    .nullish(),
});

const volumeSchema = z.object({
  Name: z.string(),
  Driver: z.string().nullish(),
  Mountpoint: z.string().nullish(),
  Labels: labelsSchema,
  Options: labelsSchema,
});

const inspectStateSchema = z.object({
  RestartCount: z.number().nullish(),
  State: z.object({
    Status: z.string().nullish(),
    Running: z.boolean().nullish(),
    StartedAt: z.string().nullish(),
    ExitCode: z.number().nullish(),
    Error: z.string().nullish(),
    Health: z.object({ Status: z.string().nullish() }).nullish(),
  }),
});

const KNOWN_STATES: readonly ContainerState[] = [
  "running",
  "restarting",
  "paused",
  "exited",
  "created",
  "dead",
  "removing",
];

function toContainer(raw: z.infer<typeof containerSummarySchema>): Container {
  const mounts: ContainerMount[] = [];
  for (const m of raw.Mounts ?? []) {
    const destination = m.Destination ?? "";
    const readOnly = m.RW === false;
    if (m.Type === "volume" && m.Name) mounts.push({ kind: "volume", name: m.Name, destination, readOnly });
    else if (m.Type === "bind" && m.Source)
      mounts.push({ kind: "bind", source: m.Source, destination, readOnly });
  }
  const state = (raw.State ?? "created") as ContainerState;
  return {
    id: raw.Id,
    name: (raw.Names?.[0] ?? raw.Id).replace(/^\//, ""),
    image: raw.Image ?? "",
    state: KNOWN_STATES.includes(state) ? state : "created",
    labels: raw.Labels,
    mounts,
    networks: Object.keys(raw.NetworkSettings?.Networks ?? {}).sort(),
    ...(raw.HostConfig?.NetworkMode ? { networkMode: raw.HostConfig.NetworkMode } : {}),
  };
}

export function toVolume(raw: unknown): Volume {
  const v = volumeSchema.parse(raw);
  return {
    name: v.Name,
    driver: v.Driver ?? "local",
    mountpoint: v.Mountpoint ?? "",
    labels: v.Labels,
    options: v.Options,
  };
}

export interface ContainerStatus {
  status: string;
  running: boolean;
  /** When it was last started (undefined when never). */
  startedAt: Date | undefined;
  health: string | undefined;
  exitCode: number | undefined;
  error: string | undefined;
  /**
   * How often its restart policy has started it again since it was last started by hand (or by
   * kopi-docka): the engine sets it to 0 at such a start. A container that crashes and is
   * restarted shows it here, while its status may say running.
   */
  restartCount: number;
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

export class DockerEngine {
  private readonly docker: Docker;

  constructor(options?: Docker.DockerOptions) {
    this.docker = new Docker(options);
  }

  private async call<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      if (code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES")
        throw new EnvironmentError(
          `the Docker engine is not reachable (${errorMessage(error)}): start dockerd, or set DOCKER_HOST`,
        );
      throw new ExternalError(`Docker: ${what} failed: ${errorMessage(error)}`);
    }
  }

  async version(): Promise<{ version: string; apiVersion: string; rootDir: string }> {
    const [version, info] = await this.call("version", () =>
      Promise.all([this.docker.version(), this.docker.info()]),
    );
    return {
      version: String(version.Version ?? ""),
      apiVersion: String(version.ApiVersion ?? ""),
      rootDir: String((info as { DockerRootDir?: unknown }).DockerRootDir ?? "/var/lib/docker"),
    };
  }

  async listContainers(): Promise<Container[]> {
    const raw: unknown = await this.call("listing containers", () =>
      this.docker.listContainers({ all: true }),
    );
    return z.array(containerSummarySchema).parse(raw).map(toContainer);
  }

  async listVolumes(): Promise<Volume[]> {
    const raw = await this.call("listing volumes", () => this.docker.listVolumes());
    return (raw.Volumes ?? []).map(toVolume);
  }

  async inspectVolume(name: string): Promise<Volume | undefined> {
    try {
      return toVolume(await this.docker.getVolume(name).inspect());
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      return this.call(`inspecting volume ${name}`, () => Promise.reject(error));
    }
  }

  async createVolume(volume: Pick<Volume, "name" | "driver" | "labels" | "options">): Promise<Volume> {
    await this.call(`creating volume ${volume.name}`, () =>
      this.docker.createVolume({
        Name: volume.name,
        Driver: volume.driver,
        Labels: { ...volume.labels },
        DriverOpts: { ...volume.options },
      }),
    );
    const created = await this.inspectVolume(volume.name);
    if (!created) throw new ExternalError(`Docker: volume ${volume.name} was created but cannot be found`);
    return created;
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    let raw: unknown;
    try {
      raw = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      return this.call(`inspecting container ${id}`, () => Promise.reject(error));
    }
    const { State, RestartCount } = inspectStateSchema.parse(raw);
    return {
      status: State.Status ?? "unknown",
      running: State.Running === true,
      startedAt:
        State.StartedAt && !State.StartedAt.startsWith("0001-") ? new Date(State.StartedAt) : undefined,
      health: State.Health?.Status ?? undefined,
      exitCode: State.ExitCode ?? undefined,
      error: State.Error || undefined,
      restartCount: RestartCount ?? 0,
    };
  }

  /**
   * A tar archive of a path inside a container (running or stopped), from the Engine API. Its
   * entries start with the path's base name ("data/…"). No helper image is needed.
   */
  async archive(id: string, containerPath: string): Promise<import("node:stream").Readable> {
    const stream = await this.call(`reading ${containerPath} of container ${id}`, () =>
      this.docker.getContainer(id).getArchive({ path: containerPath }),
    );
    return stream as unknown as import("node:stream").Readable;
  }

  /** Extracts a tar stream into a path of a (stopped or created) container: owners and modes as the archive says. */
  async putArchive(
    id: string,
    containerPath: string,
    archive: import("node:stream").Readable,
  ): Promise<void> {
    await this.call(`writing into ${containerPath} of container ${id}`, async () => {
      await this.docker.getContainer(id).putArchive(archive, { path: containerPath });
    });
  }

  /** Creates (does not start) a helper container of a local image with a volume mounted. */
  async createHelper(options: {
    image: string;
    volume: string;
    mountPath: string;
    script: string;
    labels: Record<string, string>;
  }): Promise<string> {
    const container = await this.call(`creating a helper container from ${options.image}`, () =>
      this.docker.createContainer({
        Image: options.image,
        Entrypoint: ["sh", "-c"],
        Cmd: [options.script],
        User: "0:0",
        WorkingDir: "/",
        Labels: options.labels,
        NetworkDisabled: true,
        HostConfig: { Binds: [`${options.volume}:${options.mountPath}`], NetworkMode: "none" },
      }),
    );
    return container.id;
  }

  /** Starts a created helper, waits for it and returns its exit code and output. */
  async runHelper(id: string): Promise<{ exitCode: number; output: string }> {
    const container = this.docker.getContainer(id);
    await this.call("starting a helper container", () => container.start());
    const result = (await this.call("waiting for a helper container", () => container.wait())) as {
      StatusCode?: number;
    };
    const logs = (await this.call("reading a helper container's output", () =>
      container.logs({ stdout: true, stderr: true, follow: false }),
    )) as unknown as Buffer;
    return { exitCode: result.StatusCode ?? -1, output: demuxLogs(Buffer.from(logs)) };
  }

  async removeContainer(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true, v: false })
      .catch(() => undefined);
  }

  /** Creates a network from a saved inspect document: driver, IPAM, options, labels and flags. */
  async createNetworkFrom(doc: {
    Name: string;
    Driver?: string;
    IPAM?: {
      Driver?: string;
      Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null;
      Options?: Record<string, string> | null;
    };
    Options?: Record<string, string> | null;
    Labels?: Record<string, string> | null;
    Internal?: boolean;
    Attachable?: boolean;
    EnableIPv6?: boolean;
  }): Promise<void> {
    await this.call(`creating network ${doc.Name}`, () =>
      this.docker.createNetwork({
        Name: doc.Name,
        Driver: doc.Driver ?? "bridge",
        CheckDuplicate: true,
        Internal: doc.Internal ?? false,
        Attachable: doc.Attachable ?? false,
        EnableIPv6: doc.EnableIPv6 ?? false,
        Options: doc.Options ?? {},
        Labels: doc.Labels ?? {},
        IPAM: {
          Driver: doc.IPAM?.Driver ?? "default",
          Config: (doc.IPAM?.Config ?? []).map((c) => ({
            ...(c.Subnet ? { Subnet: c.Subnet } : {}),
            ...(c.Gateway ? { Gateway: c.Gateway } : {}),
            ...(c.IPRange ? { IPRange: c.IPRange } : {}),
          })),
          Options: doc.IPAM?.Options ?? {},
        },
      }),
    );
  }

  /** Creates a container from the parts of an inspect document; returns its id. */
  async createContainerFrom(options: {
    name: string;
    config: Record<string, unknown>;
    hostConfig: Record<string, unknown>;
    network?: { name: string; ipam?: unknown; aliases?: string[] | undefined } | undefined;
  }): Promise<string> {
    const created = await this.call(`creating container ${options.name}`, () =>
      this.docker.createContainer({
        ...(options.config as Docker.ContainerCreateOptions),
        name: options.name,
        HostConfig: {
          ...(options.hostConfig as Docker.HostConfig),
          ...(options.network ? { NetworkMode: options.network.name } : {}),
        },
        ...(options.network
          ? {
              NetworkingConfig: {
                EndpointsConfig: {
                  [options.network.name]: {
                    ...(options.network.ipam
                      ? { IPAMConfig: options.network.ipam as Docker.EndpointSettings["IPAMConfig"] }
                      : {}),
                    ...(options.network.aliases ? { Aliases: options.network.aliases } : {}),
                  },
                },
              },
            }
          : {}),
      }),
    );
    return created.id;
  }

  async connectNetwork(
    network: string,
    containerId: string,
    options: { ipam?: unknown; aliases?: string[] | undefined },
  ): Promise<void> {
    await this.call(`connecting ${containerId} to ${network}`, () =>
      this.docker.getNetwork(network).connect({
        Container: containerId,
        EndpointConfig: {
          ...(options.ipam ? { IPAMConfig: options.ipam as Docker.EndpointSettings["IPAMConfig"] } : {}),
          ...(options.aliases ? { Aliases: options.aliases } : {}),
        },
      }),
    );
  }

  async removeNetwork(name: string): Promise<void> {
    await this.call(`removing network ${name}`, () => this.docker.getNetwork(name).remove());
  }

  /** The full inspect document of a container, as the Engine API returns it. */
  async inspectContainerDocument(id: string): Promise<unknown> {
    return this.call(`inspecting container ${id}`, () => this.docker.getContainer(id).inspect());
  }

  /** The inspect document of a network, or undefined when it does not exist. */
  async inspectNetworkDocument(name: string): Promise<unknown | undefined> {
    try {
      return await this.docker.getNetwork(name).inspect();
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      return this.call(`inspecting network ${name}`, () => Promise.reject(error));
    }
  }

  /** Stops a container, giving it `timeoutSeconds` before the engine kills it. Already stopped is fine. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (error) {
      if (statusCode(error) === 304) return;
      await this.call(`stopping container ${id}`, () => Promise.reject(error));
    }
  }

  /** Starts a container. Already running is fine. */
  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (statusCode(error) === 304) return;
      await this.call(`starting container ${id}`, () => Promise.reject(error));
    }
  }

  /**
   * Waits until a container runs (and is healthy, where it has a health check).
   * Resolves with undefined when it does, or with the reason it did not within the timeout.
   */
  async waitRunning(id: string, timeoutMs: number, pollMs = 200): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    let last: ContainerStatus | undefined;
    for (;;) {
      last = await this.containerStatus(id);
      if (!last) return "container no longer exists";
      if (last.running && (last.health === undefined || last.health === "healthy")) return undefined;
      if (
        !last.running &&
        (last.status === "exited" || last.status === "dead") &&
        Date.now() > deadline - timeoutMs + 1000
      )
        return `container exited (code ${last.exitCode ?? "?"})${last.error ? `: ${last.error}` : ""}`;
      if (Date.now() >= deadline)
        return last.running
          ? `not healthy within ${timeoutMs / 1000}s (health: ${last.health})`
          : `not running within ${timeoutMs / 1000}s (${last.status})`;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/** The Engine API multiplexes stdout and stderr of a non-TTY container in 8-byte-headed frames. */
export function demuxLogs(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length && (raw[offset] === 1 || raw[offset] === 2) && raw[offset + 1] === 0) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return offset === 0 ? raw.toString("utf8") : Buffer.concat(parts).toString("utf8");
}
