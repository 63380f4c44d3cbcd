'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { client, h, spans, doc } = require('./helpers');

const fullProduct = {
  product_id: 'KB-1', name: 'K-100', url: 'https://shop.example/p/kb-1', unit_price: '39.00',
  description: 'A keyboard', image_url: 'https://cdn.example/kb-1.jpg', thumbnail_url: 'https://cdn.example/kb-1-t.jpg',
  availability: 'InStock', brand: 'Keyco', category: ['/Computers/Keyboards', '/Sale'], tag: ['wireless', 'new'],
  related_external_product_id: ['MS-2', 'MS-3'], priority: '5', rating_value: '4.5', review_count: '12',
  rating_count: '30', unit_price_original: '49.00', unit_price_without_vat: '32.23', discounted_amount: '10',
  discounted_percentage: '20.41', published_at: '2024-02-01T09:00:00Z', custom_field_1: 'a', custom_field_2: 'b',
  custom_field_3: 'c',
};
const fullProductJs = {
  productId: 'KB-1', name: 'K-100', productDetailUrl: 'https://shop.example/p/kb-1', unitPrice: 39,
  description: 'A keyboard', imageUrl: 'https://cdn.example/kb-1.jpg', thumbnailUrl: 'https://cdn.example/kb-1-t.jpg',
  availability: 'InStock', brand: 'Keyco', categories: ['/Computers/Keyboards', '/Sale'], tags: ['wireless', 'new'],
  relatedExternalProductIds: ['MS-2', 'MS-3'], priority: 5, rating: 4.5, reviewCount: 12, ratingCount: 30,
  unitPriceOriginal: 49, unitPriceWithoutVAT: 32.23, discountedAmount: 10, discountedPercentage: 20.41,
  publishedAt: '2024-02-01T09:00:00Z', customField1: 'a', customField2: 'b', customField3: 'c',
};
const line = (id, qty, price) => h('div', 'product_basket_item', ...spans({
  quantity: qty, price, product_id: id, name: 'Item ' + id, url: 'https://shop.example/p/' + id, unit_price: price / qty,
}));

test('cn_client_info: direct children, four renamed classes, every other class verbatim, strings', () => {
  const d = doc('', h('div', 'cn_client_info', ...spans({
    primary_key: ' jane@example.com ', tracker_id: 'abc', _name: 'Jane', _surname: 'Doe', _birthdate: '1990-04-12T00:00:00Z',
    _newsletter_subscription_status: 'subscribed', _email_status: 'active', _mobilePhone: '+34600111222',
    _mobile_phone: '+34', _points: '12', loyalty_tier: 'gold', empty: '',
  }), h('div', 'nested', h('span', 'primary_key', 'not-a-direct-child@x.y'))));
  assert.deepEqual(client.scrapeClientInfo(d), {
    primaryKey: 'jane@example.com', trackerId: 'abc', _name: 'Jane', _surname: 'Doe', _birthdate: '1990-04-12T00:00:00Z',
    _newsletterSubscriptionStatus: 'subscribed', _emailStatus: 'active', _mobilePhone: '+34600111222',
    _mobile_phone: '+34', _points: '12', loyalty_tier: 'gold', nested: 'not-a-direct-child@x.y',
  });
  assert.deepEqual(client.scrapeClientInfo(doc('')), {});
});

test('cn_cart: mapping, numbers parsed, invalid lines dropped, emptied cart kept', () => {
  const d = doc('', h('div', 'cn_cart', ...spans({
    cart_id: 'c-7781', total_quantity: '3', total_price: '74.70', cart_recovery_url: 'https://shop.example/cart/c-7781',
  }), line('SKU-42', 2, 49.8), line('SKU-43', 1, 24.9),
  h('div', 'product_basket_item', ...spans({ quantity: 1, price: 5, product_id: 'NO-NAME', url: 'u', unit_price: 5 }))));
  const cart = client.scrapeCart(d);
  assert.equal(cart.cartId, 'c-7781');
  assert.equal(cart.totalQuantity, 3);
  assert.equal(cart.totalPrice, 74.7);
  assert.equal(cart.cartRecoveryUrl, 'https://shop.example/cart/c-7781');
  assert.deepEqual(cart.products.map((p) => [p.productId, p.quantity, p.price]), [['SKU-42', 2, 49.8], ['SKU-43', 1, 24.9]]);
  assert.equal(cart.products[0].productDetailUrl, 'https://shop.example/p/SKU-42');

  const emptied = client.scrapeCart(doc('', h('div', 'cn_cart', ...spans({ cart_id: 'c1', total_quantity: 0, total_price: 0 }))));
  assert.deepEqual(emptied, { cartId: 'c1', totalQuantity: 0, totalPrice: 0, products: [] });
  assert.equal(client.scrapeCart(doc('', h('div', 'cn_cart', ...spans({ total_quantity: 0, total_price: 0 })))), undefined);
  assert.equal(client.scrapeCart(doc('', h('div', 'cn_cart', ...spans({ cart_id: 'c', total_quantity: 'x', total_price: 0 })))), undefined);
  assert.equal(client.scrapeCart(doc('')), undefined);
});

test('every event tag, in the reference order, with page-visit last', () => {
  const d = doc('Keyboards | Shop',
    h('div', 'cn_purchase', ...spans({
      purchase_id: 'ORD-1', cart_id: 'c-7781', total_quantity: '3', total_price: '74.70', purchase_date: '2024-09-13T10:49:31Z',
      payment_method: 'card', source_type: 'digital-store', source_name: 'Main web shop',
    }), line('SKU-42', 3, 74.7)),
    h('div', 'cn_newsletter_subscribe', ...spans({ email: 'ana@example.com' })),
    h('div', 'cn_search', ...spans({ search_text: ' wireless keyboard ' })),
    h('div', 'cn_register'),
    h('div', 'cn_login'),
    h('div', 'cn_product_not_found', ...spans({ product_id: 'GONE-1' })),
    h('div', 'cn_product_not_found'),
    h('div', 'cn_product_searched', ...spans({ product_id: 'S1', name: 'S one', url: 'https://shop.example/p/s1', unit_price: '9.5' })),
    h('div', 'cn_product_searched', ...spans({ product_id: 'S2', name: 'no price', url: 'https://shop.example/p/s2' })),
    h('div', 'cn_product_visited', ...spans(fullProduct)),
  );
  const events = client.scrapeEvents(d);
  assert.deepEqual(events.map((e) => e.type), [
    'product-visited', 'product-searched', 'product-not-found', 'login', 'register', 'search',
    'newsletter-subscribe', 'purchase', 'page-visit',
  ]);
  assert.deepEqual(events[0].product, fullProductJs);
  assert.deepEqual(events[1].product, { productId: 'S1', name: 'S one', productDetailUrl: 'https://shop.example/p/s1', unitPrice: 9.5 });
  assert.deepEqual(events[2], { type: 'product-not-found', productId: 'GONE-1' });
  assert.deepEqual(events[5], { type: 'search', searchText: 'wireless keyboard' });
  assert.deepEqual(events[6], { type: 'newsletter-subscribe', email: 'ana@example.com' });
  const p = events[7].purchase;
  assert.deepEqual({ ...p, products: undefined }, {
    purchaseId: 'ORD-1', cartId: 'c-7781', totalQuantity: 3, totalPrice: 74.7, purchaseDate: '2024-09-13T10:49:31Z',
    paymentMethod: 'card', source_type: 'digital-store', source_name: 'Main web shop', products: undefined,
  });
  assert.equal(p.products.length, 1);
  assert.deepEqual(events[8], { type: 'page-visit' });
});

test('a page without tags yields only the page visit; an invalid purchase is dropped', () => {
  assert.deepEqual(client.scrapeEvents(doc('')), [{ type: 'page-visit' }]);
  const d = doc('', h('div', 'cn_purchase', ...spans({ total_quantity: 1, total_price: 1 })),
    h('div', 'cn_search', h('span', 'search_text', '  ')));
  assert.deepEqual(client.scrapeEvents(d), [{ type: 'page-visit' }]);
});

test('pageInfo: categories, title cut to 50, tags cut to 25 and at most 10, keywords; banner ids', () => {
  const tags = [];
  for (let i = 0; i < 12; i++) tags.push(h('span', 'cn_page_tag', 'tag-' + i + (i === 0 ? 'x'.repeat(40) : '')));
  const d = doc('T'.repeat(60),
    h('meta', '', { name: 'keywords', content: 'keyboards, sale ,,mice' }),
    h('span', 'cn_page_category', '/Computers/Keyboards'),
    h('span', 'cn_page_category', ''),
    ...tags,
    h('div', 'cn_banner_placeholder', { id: 'home-banner-1' }),
    h('div', 'cn_banner_placeholder'),
  );
  const info = client.scrapePageInfo(d);
  assert.deepEqual(info.categories, ['/Computers/Keyboards']);
  assert.equal(info.title, 'T'.repeat(50));
  assert.equal(info.tags.length, 10);
  assert.equal(info.tags[0], ('tag-0' + 'x'.repeat(40)).slice(0, 25));
  assert.deepEqual(info.keywords, ['keyboards', 'sale', 'mice']);
  assert.deepEqual(client.scrapeBannerPlaceholders(d), ['home-banner-1']);
});
