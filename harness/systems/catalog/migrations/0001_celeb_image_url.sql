-- The catalog of served images (system B): one row per size of every image, so an
-- entity with one image has 4 rows with the default sizes.
-- The unique key makes a duplicate row impossible: the loader upserts on it, so a
-- redelivered message updates its rows instead of adding new ones.
CREATE TABLE IF NOT EXISTS `celeb_image_url` (
  `id`          BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
  `vertical`    VARCHAR(40)       NOT NULL COMMENT 'catalogue section, e.g. actor',
  `cd_idx`      BIGINT UNSIGNED   NOT NULL COMMENT 'entity id',
  `image_size`  VARCHAR(20)       NOT NULL COMMENT 'size name, e.g. large',
  `sequence`    INT UNSIGNED      NOT NULL COMMENT 'image number of the entity',
  `url`         VARCHAR(512)      NOT NULL COMMENT 'https://{cdn_host}/{vertical}/{size}/{cd_idx}_{size}_{sequence}.jpg',
  `width`       SMALLINT UNSIGNED NOT NULL,
  `height`      SMALLINT UNSIGNED NOT NULL,
  `bytes`       INT UNSIGNED      NOT NULL,
  `source_etag` VARCHAR(64)       NULL COMMENT 'ETag of the uploaded original',
  `resized_at`  DATETIME(3)       NOT NULL COMMENT 'UTC; the newest rendition wins',
  `created_at`  DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `updated_at`  DATETIME(3)       NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_celeb_image_url_image` (`vertical`, `cd_idx`, `sequence`, `image_size`),
  KEY `ix_celeb_image_url_cd_idx` (`cd_idx`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
