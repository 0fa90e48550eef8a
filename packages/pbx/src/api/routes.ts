import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { cidrContains } from '@psi-lab/sip';
import type { HashAlgorithm, MbgEntry, PbxStore } from '../store/types.js';
import { ApiError } from './errors.js';
import { allowListEntryFrom, mbgFrom, newSubscriberFrom, roleFrom, subscriberPatchFrom } from './request-bodies.js';

/** The SIP security layer's automatic blocks, as the API lists and lifts them. */
export interface BlockSource {
  list(): Array<{ address: string; reason: string; until: number }>;
  lift(address: string): boolean;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body(): Promise<unknown>;
}

export interface Reply {
  status: number;
  /** Absent: an empty answer (204). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: HttpMethod;
  /** Segments; ":name" captures one (URL-decoded). */
  path: string;
  /** token: the administrators' bearer token; gateway: HTTP Basic with the MBG entry's account. */
  auth: 'token' | 'gateway';
  handle(context: RouteContext): Reply | Promise<Reply>;
}

/** What GET /api/mbg shows: never the shared secret, plus what is wrong around the entry. */
export interface MbgView {
  address: string;
  publicFqdn: string;
  account: string;
  warnings: string[];
}

export interface GatewayCredential {
  extension: string;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });
const noContent: Reply = { status: 204 };

function notFound(field: string, message: string): ApiError {
  return new ApiError(404, 'not-found', field, message);
}

export function managementRoutes(store: PbxStore, blocks: BlockSource | undefined): Route[] {
  // The credentials' ETag names this process and the store's configuration version: a gateway
  // asking every few seconds gets a 304 (no hashes on the wire) until a subscriber changes.
  const boot = randomBytes(6).toString('base64url');
  const credentialsTag = (): string => `"${boot}-${store.configVersion}"`;
  const requireBlocks = (): BlockSource => {
    if (!blocks) throw new ApiError(501, 'not-implemented', null, 'no SIP security layer is attached to this API: there are no blocks to show');
    return blocks;
  };
  const requireMbg = (): MbgEntry => {
    const entry = store.getMbg();
    if (!entry) throw notFound('mbg', 'no MBG entry is configured: add one with PUT /api/mbg');
    return entry;
  };
  const mbgView = (entry: MbgEntry): MbgView => ({
    address: entry.address, publicFqdn: entry.publicFqdn, account: entry.account, warnings: gatewayWarnings(store, entry.address),
  });
  const ha1 = (extension: string, algorithm: HashAlgorithm): string => {
    const value = store.ha1(extension, algorithm);
    if (value === undefined) throw new ApiError(404, 'unknown-subscriber', 'extension', `there is no subscriber with extension ${extension}`);
    return value;
  };

  return [
    { method: 'GET', path: '/api/subscribers', auth: 'token', handle: () => ok(store.listSubscribers()) },
    {
      method: 'POST', path: '/api/subscribers', auth: 'token',
      handle: async ({ body }) => {
        const subscriber = store.addSubscriber(newSubscriberFrom(await body()));
        return { status: 201, body: subscriber, headers: { location: `/api/subscribers/${encodeURIComponent(subscriber.extension)}` } };
      },
    },
    {
      method: 'GET', path: '/api/subscribers/:extension', auth: 'token',
      handle: ({ params }) => {
        const subscriber = store.getSubscriber(params.extension);
        if (!subscriber) throw new ApiError(404, 'unknown-subscriber', 'extension', `there is no subscriber with extension ${params.extension}`);
        return ok(subscriber);
      },
    },
    {
      method: 'PATCH', path: '/api/subscribers/:extension', auth: 'token',
      handle: async ({ params, body }) => ok(store.updateSubscriber(params.extension, subscriberPatchFrom(await body()))),
    },
    {
      method: 'DELETE', path: '/api/subscribers/:extension', auth: 'token',
      handle: ({ params }) => {
        store.removeSubscriber(params.extension);
        return noContent;
      },
    },

    { method: 'GET', path: '/api/roles', auth: 'token', handle: () => ok(store.listRoles()) },
    {
      method: 'GET', path: '/api/roles/:name', auth: 'token',
      handle: ({ params }) => {
        const role = store.listRoles().find((r) => r.name === params.name);
        if (!role) throw notFound('name', `there is no role "${params.name}"`);
        return ok(role);
      },
    },
    {
      method: 'PUT', path: '/api/roles/:name', auth: 'token',
      handle: async ({ params, body }) => {
        const existing = store.listRoles().find((r) => r.name === params.name);
        return ok(store.putRole(roleFrom(params.name, await body(), existing)), existing ? 200 : 201);
      },
    },
    {
      method: 'DELETE', path: '/api/roles/:name', auth: 'token',
      handle: ({ params }) => {
        store.removeRole(params.name);
        return noContent;
      },
    },

    { method: 'GET', path: '/api/mbg', auth: 'token', handle: () => ok(mbgView(requireMbg())) },
    {
      method: 'PUT', path: '/api/mbg', auth: 'token',
      handle: async ({ body }) => {
        const existing = store.getMbg();
        store.setMbg(mbgFrom(await body(), existing));
        return ok(mbgView(requireMbg()), existing ? 200 : 201);
      },
    },
    {
      method: 'DELETE', path: '/api/mbg', auth: 'token',
      handle: () => {
        requireMbg();
        store.setMbg(null);
        return noContent;
      },
    },

    { method: 'GET', path: '/api/allow-list', auth: 'token', handle: () => ok(store.listAllowList()) },
    {
      method: 'POST', path: '/api/allow-list', auth: 'token',
      handle: async ({ body }) => {
        const { cidr, comment } = allowListEntryFrom(await body());
        return ok(store.addAllowListEntry(cidr, comment), 201);
      },
    },
    {
      method: 'DELETE', path: '/api/allow-list/:id', auth: 'token',
      handle: ({ params }) => {
        if (!/^[1-9][0-9]{0,15}$/.test(params.id)) throw new ApiError(400, 'bad-field', 'id', `an Allow-List id is a positive whole number (got "${params.id}")`);
        store.removeAllowListEntry(Number(params.id));
        return noContent;
      },
    },

    { method: 'GET', path: '/api/site-networks', auth: 'token', handle: () => ok(store.listSiteNetworks()) },
    {
      method: 'POST', path: '/api/site-networks', auth: 'token',
      handle: async ({ body }) => {
        const { cidr, comment } = allowListEntryFrom(await body());
        return ok(store.addSiteNetwork(cidr, comment), 201);
      },
    },
    {
      method: 'DELETE', path: '/api/site-networks/:id', auth: 'token',
      handle: ({ params }) => {
        if (!/^[1-9][0-9]{0,15}$/.test(params.id)) throw new ApiError(400, 'bad-field', 'id', `a site network id is a positive whole number (got "${params.id}")`);
        store.removeSiteNetwork(Number(params.id));
        return noContent;
      },
    },

    { method: 'GET', path: '/api/blocks', auth: 'token', handle: () => ok(requireBlocks().list()) },
    {
      method: 'DELETE', path: '/api/blocks/:address', auth: 'token',
      handle: ({ params }) => {
        if (!requireBlocks().lift(params.address)) throw notFound('address', `${params.address} is not blocked`);
        return noContent;
      },
    },

    {
      method: 'GET', path: '/api/gateway/credentials', auth: 'gateway',
      handle: ({ query, headers: asked }) => {
        const only = query.get('extension');
        if (only === '') throw new ApiError(400, 'bad-field', 'extension', 'extension is empty: give one (?extension=1001) or leave it out for all');
        const tag = credentialsTag();
        if (only === null && asked['if-none-match'] === tag) return { status: 304, headers: { etag: tag } };
        const extensions = only === null ? store.listSubscribers().map((s) => s.extension) : [only];
        const credentials = extensions.map((extension): GatewayCredential => ({
          extension, realm: store.realm, ha1Md5: ha1(extension, 'MD5'), ha1Sha256: ha1(extension, 'SHA-256'),
        }));
        const headers: Record<string, string> = only === null ? { etag: tag } : {};
        return { status: 200, body: credentials, headers };
      },
    },
  ];
}

/**
 * The pbx blocks misbehaving sources unless they are on the Allow-List; the gateway
 * concentrates every remote user's traffic, so an unlisted gateway gets blocked first.
 */
function gatewayWarnings(store: PbxStore, address: string): string[] {
  if (isIP(address) === 0) {
    return [`the MBG address "${address}" is a host name: make sure the gateway's IP address is on the Allow-List, or the pbx may block its own gateway`];
  }
  if (store.listAllowList().some((entry) => cidrContains(entry.cidr, address))) return [];
  const single = isIP(address) === 4 ? `${address}/32` : `${address}/128`;
  return [`the MBG address ${address} is not on the Allow-List: add it (${single}) or the pbx may block its own gateway under load`];
}
