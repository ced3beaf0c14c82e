/** Who is calling: resolved once per /v1 request from the bearer token. */
export interface Principal {
  admin: boolean;
  /** null for admin tokens that belong to no team (and the CIM_ADMIN_TOKEN) */
  teamId: string | null;
  /** the api_tokens row; null for the CIM_ADMIN_TOKEN */
  tokenId: string | null;
  /** a token's public prefix (e.g. "cimf_Ab3dE9x"), or "admin-env" for CIM_ADMIN_TOKEN */
  tokenPrefix: string;
}
